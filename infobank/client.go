package infobank

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	herald "github.com/heraldhq/herald"
)

// Client defaults.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultDialTimeout = 3 * time.Second
	DefaultMaxConns    = 64
)

// maxResponseBytes bounds what the client reads of any answer.
const maxResponseBytes = 4 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is e.g. https://mars.ibapi.kr (sandbox: https://sandbox-mars.ibapi.kr).
	BaseURL string
	// APIKey is sent as is in Authorization. It never appears in errors or logs.
	APIKey string
	// Timeout bounds one HTTP exchange, connection wait included (default 10s).
	Timeout time.Duration
	// DialTimeout bounds connecting (default 3s).
	DialTimeout time.Duration
	// MaxConns is the connection limit to the provider, idle ones included,
	// and the number of requests one Send runs at once (default 64).
	MaxConns int
	// Logger receives debug lines about failed exchanges (default: discard).
	Logger *slog.Logger
	// APILimiter, when set, paces every non-send call (inquiry, polling,
	// ack, templates) of this client; share one between all the clients
	// of a process, since the provider's limit is per account.
	APILimiter *APILimiter
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return herald.Invalid("baseURL", "must be an http or https URL")
	}
	if c.APIKey == "" {
		return herald.Invalid("apiKey", "is required")
	}
	switch {
	case c.Timeout < 0:
		return herald.Invalid("timeout", "must not be negative")
	case c.DialTimeout < 0:
		return herald.Invalid("dialTimeout", "must not be negative")
	case c.MaxConns < 0:
		return herald.Invalid("maxConns", "must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Client talks to the Bizgo API. It implements herald.Provider and is safe
// for concurrent use. It never retries a send.
type Client struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger
}

var _ herald.Provider = (*Client)(nil)

// New returns a client with its own connection pool.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("infobank client: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Client{cfg: cfg, http: newHTTPClient(cfg), log: cfg.Logger.With("component", "infobank")}, nil
}

func newHTTPClient(cfg Config) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxConns,
		MaxIdleConnsPerHost:   cfg.MaxConns,
		MaxConnsPerHost:       cfg.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		// A redirect is a configuration error (gateway A301 means "moved"),
		// never something to follow with a POST body.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// exchange is one finished HTTP round trip: the status and body when an
// answer came, the error otherwise, and whether the provider may have
// received the whole request (and so may have acted on it).
type exchange struct {
	status     int
	body       []byte
	err        error
	bodyErr    error
	mayArrived bool
}

// do runs one request. It never returns the API key in an error.
func (c *Client) do(ctx context.Context, method, path string, body []byte) (x exchange) {
	var w writeState
	req, err := http.NewRequestWithContext(w.trace(ctx), method, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		x.err = fmt.Errorf("build request: %w", err)
		return x
	}
	req.Header.Set("Authorization", c.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	x.mayArrived = w.mayHaveArrived()
	if err != nil {
		x.err = err
		return x
	}
	defer resp.Body.Close()
	x.status = resp.StatusCode
	x.body, x.bodyErr = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	return x
}

// errorText describes a transport error without the URL's query or any header.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
