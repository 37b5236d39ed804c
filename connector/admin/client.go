package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/store"
)

// Client is API over a running server's admin listener.
type Client struct {
	base  string
	token string
	http  *http.Client
	check *http.Client // for Reachable: a short timeout
}

// NewClient talks to the admin listener of cfg (admin.listen, with admin.token). When the listener serves
// HTTPS (admin.tls_cert), the client trusts exactly the certificate in admin.tls_cert, whatever name it is
// issued for: the CLI reaches the listener by address, often loopback. It fails when that file cannot be read.
func NewClient(cfg connector.AdminConfig) (*Client, error) {
	host, port, _ := net.SplitHostPort(cfg.Listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme, tr := "http", http.DefaultTransport
	if cfg.TLSCert != "" {
		pinned, err := pinnedTransport(cfg.TLSCert)
		if err != nil {
			return nil, err
		}
		scheme, tr = "https", pinned
	}
	return &Client{base: scheme + "://" + net.JoinHostPort(host, port), token: cfg.Token,
		http: &http.Client{Timeout: 30 * time.Second, Transport: tr}, check: &http.Client{Timeout: 2 * time.Second, Transport: tr}}, nil
}

// pinnedTransport accepts only a server presenting the first certificate of the PEM file certFile.
func pinnedTransport(certFile string) (*http.Transport, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("admin.tls_cert: %w", err)
	}
	var der []byte
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			der = block.Bytes
			break
		}
	}
	if der == nil {
		return nil, fmt.Errorf("admin.tls_cert: %s holds no PEM certificate", certFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{
		// The usual chain and name checks are replaced by VerifyConnection: the certificate must be this one.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, der) {
				return errors.New("the admin listener presented another certificate than admin.tls_cert")
			}
			return nil
		},
	}
	return tr, nil
}

// Reachable reports whether a server answers on the admin listener.
func (c *Client) Reachable(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := c.check.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (c *Client) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(data, &e)
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s: %w", e.Error, store.ErrNotFound)
		}
		return fmt.Errorf("admin API: HTTP %d: %s", resp.StatusCode, e.Error)
	}
	return json.Unmarshal(data, out)
}

func (c *Client) Status() (Status, error) {
	var s Status
	return s, c.do(http.MethodGet, "/admin/status", nil, &s)
}

func (c *Client) DeadList(dest string, limit int) ([]DeadLetter, error) {
	var out []DeadLetter
	return out, c.do(http.MethodGet, listPath("/admin/dead", dest, limit), nil, &out)
}

// listPath is a list endpoint's path with its limit and optional destination.
func listPath(path, dest string, limit int) string {
	q := fmt.Sprintf("%s?limit=%d", path, limit)
	if dest != "" {
		q += "&destination=" + url.QueryEscape(dest)
	}
	return q
}

func (c *Client) ParkedList(dest string, limit int) ([]ParkedSMS, error) {
	var out []ParkedSMS
	return out, c.do(http.MethodGet, listPath("/admin/parked", dest, limit), nil, &out)
}

func (c *Client) ParkedRetry(sel store.Selector) (int, error) {
	return c.selected("/admin/parked/retry", sel)
}

func (c *Client) ParkedDrop(sel store.Selector) (int, error) {
	return c.selected("/admin/parked/drop", sel)
}

func (c *Client) selected(path string, sel store.Selector) (int, error) {
	var out struct{ Count int }
	b := selectorBody{Destination: sel.Dest, Seq: sel.Seq, All: sel.Dest == ""}
	return out.Count, c.do(http.MethodPost, path, b, &out)
}

func (c *Client) DeadRetry(sel store.Selector) (int, error) {
	return c.selected("/admin/dead/retry", sel)
}
func (c *Client) DeadDrop(sel store.Selector) (int, error) {
	return c.selected("/admin/dead/drop", sel)
}

func (c *Client) QuarantineList(limit int) ([]QuarantinedEvent, error) {
	var out []QuarantinedEvent
	return out, c.do(http.MethodGet, fmt.Sprintf("/admin/quarantine?limit=%d", limit), nil, &out)
}

func (c *Client) QuarantineShow(seq uint64) (QuarantinedEvent, error) {
	var out QuarantinedEvent
	return out, c.do(http.MethodGet, fmt.Sprintf("/admin/quarantine/%d", seq), nil, &out)
}

func (c *Client) QuarantineRequeue(seq uint64) (QuarantinedEvent, error) {
	var out QuarantinedEvent
	return out, c.do(http.MethodPost, fmt.Sprintf("/admin/quarantine/%d/requeue", seq), nil, &out)
}

func (c *Client) QuarantineDrop(seq uint64) error {
	var out map[string]any
	return c.do(http.MethodPost, fmt.Sprintf("/admin/quarantine/%d/drop", seq), nil, &out)
}

// RequeueIgnoredCalls asks the server to sync the call events stored as ignored since since (zero: all).
func (c *Client) RequeueIgnoredCalls(since time.Time) (Requeued, error) {
	var out Requeued
	return out, c.do(http.MethodPost, "/admin/ignored/calls/requeue", map[string]time.Time{"since": since}, &out)
}

// Reload asks the server to reload its mappings.
func (c *Client) Reload() error {
	var out map[string]any
	return c.do(http.MethodPost, "/admin/reload", nil, &out)
}

// Forget asks the server to erase one person's events.
func (c *Client) Forget(number, email string) (int, error) {
	var out struct{ Count int }
	return out.Count, c.do(http.MethodPost, "/admin/forget", map[string]string{"number": number, "email": email}, &out)
}
