package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH             = 900, 260
	padL, padR, padT, padB     = 64, 16, 30, 36
	plotW, plotH               = chartW - padL - padR, chartH - padT - padB
	yTicks, xTicks, legendStep = 5, 10, 150
)

// point is one (x, y); a NaN y breaks the line.
type point struct{ x, y float64 }

// series is one line of a chart.
type series struct {
	name   string
	color  string
	dashed bool
	dots   bool
	points []point
}

// chart is a line chart drawn as inline SVG, no script.
type chart struct {
	title, xLabel, yLabel string
	series                []series
}

// svg draws the chart.
func (c chart) svg() template.HTML {
	xmax, ymax := c.bounds()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s">`, chartW, chartH, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="title">%s</text>`, padL, html.EscapeString(c.title))
	c.axes(&b, xmax, ymax)
	for i, s := range c.series {
		s.draw(&b, xmax, ymax)
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="4" fill="%s"/><text x="%d" y="14" class="legend">%s</text>`,
			chartW-padR-legendStep*(len(c.series)-i), s.color, chartW-padR-legendStep*(len(c.series)-i)+16, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped text only
}

// bounds returns nice upper limits of both axes.
func (c chart) bounds() (xmax, ymax float64) {
	for _, s := range c.series {
		for _, p := range s.points {
			xmax = math.Max(xmax, p.x)
			if !math.IsNaN(p.y) {
				ymax = math.Max(ymax, p.y)
			}
		}
	}
	return niceCeil(xmax), niceCeil(ymax)
}

// niceCeil rounds up to a round multiple of a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func (c chart) axes(b *strings.Builder, xmax, ymax float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" class="plot"/>`, padL, padT, plotW, plotH)
	for i := 0; i <= yTicks; i++ {
		v := ymax * float64(i) / yTicks
		y := padT + plotH - plotH*float64(i)/yTicks
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="ytick">%s</text>`,
			padL, padL+plotW, y, y, padL-6, y+4, tickLabel(v))
	}
	for i := 0; i <= xTicks; i++ {
		v := xmax * float64(i) / xTicks
		x := padL + plotW*float64(i)/xTicks
		fmt.Fprintf(b, `<text x="%.1f" y="%d" class="xtick">%s</text>`, x, padT+plotH+16, tickLabel(v))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" class="xlabel">%s</text>`, padL+plotW/2, chartH-4, html.EscapeString(c.xLabel))
	fmt.Fprintf(b, `<text x="12" y="%d" class="ylabel" transform="rotate(-90 12 %d)">%s</text>`,
		padT+plotH/2, padT+plotH/2, html.EscapeString(c.yLabel))
}

func tickLabel(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// draw writes the series as polylines, broken where y is unknown.
func (s series) draw(b *strings.Builder, xmax, ymax float64) {
	dash := ""
	if s.dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	var pts []string
	flush := func() {
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.6"%s points="%s"/>`, s.color, dash, strings.Join(pts, " "))
		}
		pts = pts[:0]
	}
	for _, p := range s.points {
		if math.IsNaN(p.y) {
			flush()
			continue
		}
		x, y := padL+plotW*p.x/xmax, padT+plotH-plotH*p.y/ymax
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		if s.dots {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, x, y, s.color)
		}
	}
	flush()
}
