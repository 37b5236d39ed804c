package connector

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot"
	"github.com/onoffsync/onoffsync/crm/salesforce"
)

// adapterConfigTypes maps each destination type to the Config struct of its type-specific keys.
var adapterConfigTypes = map[string]reflect.Type{
	"log":        reflect.TypeOf(struct{}{}),
	"hubspot":    reflect.TypeOf(hubspot.Config{}),
	"salesforce": reflect.TypeOf(salesforce.Config{}),
}

// validateAdapter decodes and validates d's type-specific keys; the error starts with the offending key.
func validateAdapter(d Destination) error {
	switch d.Type {
	case "hubspot":
		_, err := hubspotConfig(d)
		return err
	case "salesforce":
		_, err := salesforceConfig(d)
		return err
	}
	return nil
}

func salesforceConfig(d Destination) (salesforce.Config, error) {
	var c salesforce.Config
	if err := d.Node.Decode(&c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func hubspotConfig(d Destination) (hubspot.Config, error) {
	var c hubspot.Config
	if err := d.Node.Decode(&c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func destinationTypes() []string {
	var out []string
	for t := range adapterConfigTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// AdapterDeps are what a destination's adapter is built with.
type AdapterDeps struct {
	HTTPClient *http.Client // nil: the adapter's default
	Throttle   crm.Throttle
	Now        func() time.Time
	Logger     *slog.Logger
	Stdout     io.Writer // for log destinations with output "-"
}

// NewClient builds the adapter for d. It validates the type-specific keys; it makes no network call.
func NewClient(d Destination, deps AdapterDeps) (crm.Client, error) {
	opts := crm.Options{HTTPClient: deps.HTTPClient, Throttle: deps.Throttle, Now: deps.Now, Location: d.Location, Logger: deps.Logger}
	switch d.Type {
	case "log":
		return newLogClient(d.Output, deps.Stdout)
	case "hubspot":
		c, err := hubspotConfig(d)
		if err != nil {
			return nil, err
		}
		return hubspot.New(c, opts)
	case "salesforce":
		c, err := salesforceConfig(d)
		if err != nil {
			return nil, err
		}
		return salesforce.New(c, opts)
	}
	return nil, fmt.Errorf("destination %s: unknown type %q", d.Name, d.Type)
}

// logClient is the "log" destination: each SMS it syncs becomes one JSON line (the mapping's fields, which by
// default are the normalised event) in a file or on stdout.
type logClient struct {
	mu  sync.Mutex
	w   *bufio.Writer
	f   *os.File // nil for stdout
	out io.Writer
}

func newLogClient(output string, stdout io.Writer) (*logClient, error) {
	if output == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		return &logClient{w: bufio.NewWriter(stdout), out: stdout}, nil
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return nil, fmt.Errorf("log output: %w", err)
	}
	f, err := os.OpenFile(output, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log output: %w", err)
	}
	return &logClient{w: bufio.NewWriter(f), f: f, out: f}, nil
}

func (l *logClient) Limits() crm.Limits { return crm.Limits{SearchBatch: 100, WriteBatch: 100} }

func (l *logClient) FindContacts(ctx context.Context, qs []crm.ContactQuery) ([][]crm.Contact, error) {
	return make([][]crm.Contact, len(qs)), ctx.Err()
}

func (l *logClient) CreateContact(ctx context.Context, c crm.NewContact) (crm.Contact, error) {
	return crm.Contact{}, &crm.Error{Action: crm.Permanent, Message: "a log destination has no contacts: use on_no_match: log_without_contact"}
}

func (l *logClient) ResolveOwner(ctx context.Context, email string) (string, error) { return "", nil }

// LogActivities writes one line per activity and syncs the file before reporting success.
func (l *logClient) LogActivities(ctx context.Context, acts []crm.Activity) ([]crm.Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res := make([]crm.Result, len(acts))
	for i, a := range acts {
		line := map[string]any{"id": a.SourceID, "timestamp": a.Timestamp.UTC().Format(time.RFC3339Nano)}
		if a.ContactID != "" {
			line["contact_id"] = a.ContactID
		}
		for k, v := range a.Fields {
			line[k] = v
		}
		data, err := json.Marshal(line)
		if err != nil {
			return nil, err
		}
		l.w.Write(data)
		l.w.WriteByte('\n')
		res[i] = crm.Result{ID: "log:" + a.SourceID}
	}
	if err := l.w.Flush(); err != nil {
		return nil, &crm.Error{Action: crm.Retry, Message: "write log output", Err: err}
	}
	if l.f != nil {
		if err := l.f.Sync(); err != nil {
			return nil, &crm.Error{Action: crm.Retry, Message: "sync log output", Err: err}
		}
	}
	return res, nil
}

// Close closes the output file.
func (l *logClient) Close() error {
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}
