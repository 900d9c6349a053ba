package ingest

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// FuzzSpoolRecord: a record read back is the batch written, and no bytes
// on disk — torn, flipped or made up — make the reader panic or return a
// record that fails its checksum.
func FuzzSpoolRecord(f *testing.F) {
	f.Add("K1", "h1-1", "ALIMTALK", "10000", []byte(`{"msgKey":"K1"}`), int64(1764066600000000000), []byte{})
	f.Add("", "", "", "", []byte(nil), int64(0), []byte{8, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, msgKey, ref, service, code string, raw []byte, at int64, junk []byte) {
		r := herald.Report{MsgKey: msgKey, Ref: ref, ServiceType: service, Code: code, Text: ref + code, Raw: raw}
		if at != 0 {
			r.ReportTime = time.Unix(0, at).UTC()
		}
		if r.Raw == nil {
			r.Raw = []byte{}
		}
		batch := []herald.Report{r, r}
		rec := encodeRecord(batch)
		left := int64(len(rec))
		got, err := readRecord(bufio.NewReader(bytes.NewReader(rec)), &left)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		if !reflect.DeepEqual(got, batch) {
			t.Fatalf("read back %+v, want %+v", got, batch)
		}
		// Made-up or damaged bytes: an error or a well-formed batch, never a panic.
		for _, b := range [][]byte{junk, append(rec[:len(rec)-1:len(rec)-1], junk...), append(bytes.Clone(rec), junk...)} {
			rd, left := bufio.NewReader(bytes.NewReader(b)), int64(len(b))
			for range 3 {
				if _, err := readRecord(rd, &left); err != nil {
					break
				}
			}
		}
	})
}

// TestDistinctReports: a report in two records of a replay group goes to
// the store once, in its first place.
func TestDistinctReports(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 30, 2, 0, time.UTC)
	r := func(k, code string) herald.Report { return herald.Report{MsgKey: k, Code: code, ReportTime: at} }
	got := distinctReports([]spooledRecord{
		{batch: []herald.Report{r("a", "SUC"), r("b", "SUC")}},
		{batch: []herald.Report{r("b", "SUC"), r("b", "E101"), r("c", "SUC"), r("a", "SUC")}},
	})
	var keys []string
	for _, x := range got {
		keys = append(keys, x.MsgKey+"/"+x.Code)
	}
	if want := "a/SUC b/SUC b/E101 c/SUC"; strings.Join(keys, " ") != want {
		t.Fatalf("distinct %v, want %s", keys, want)
	}
}
