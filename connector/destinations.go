package connector

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"time"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/hubspot"
	"github.com/onoffsync/onoffsync/crm/logfile"
	"github.com/onoffsync/onoffsync/crm/salesforce"
)

// adapterType is one destination type of the registry: the Config struct of its type-specific keys, how to
// validate them, and how to build its adapter.
type adapterType struct {
	config   reflect.Type
	validate func(d Destination) error
	build    func(d Destination, opts crm.Options, deps AdapterDeps) (crm.Client, error)
}

// adapterTypes is the registry of destination types, the one place that knows every adapter.
var adapterTypes = map[string]adapterType{
	"log": {
		config:   reflect.TypeOf(struct{}{}),
		validate: func(Destination) error { return nil },
		build: func(d Destination, _ crm.Options, deps AdapterDeps) (crm.Client, error) {
			return logfile.New(d.Output, deps.Stdout)
		},
	},
	"hubspot": {
		config:   reflect.TypeOf(hubspot.Config{}),
		validate: func(d Destination) error { _, err := adapterConfig[hubspot.Config](d); return err },
		build: func(d Destination, opts crm.Options, _ AdapterDeps) (crm.Client, error) {
			c, err := adapterConfig[hubspot.Config](d)
			if err != nil {
				return nil, err
			}
			return hubspot.New(c, opts)
		},
	},
	"salesforce": {
		config:   reflect.TypeOf(salesforce.Config{}),
		validate: func(d Destination) error { _, err := adapterConfig[salesforce.Config](d); return err },
		build: func(d Destination, opts crm.Options, _ AdapterDeps) (crm.Client, error) {
			c, err := adapterConfig[salesforce.Config](d)
			if err != nil {
				return nil, err
			}
			return salesforce.New(c, opts)
		},
	},
}

// adapterConfig decodes d's type-specific keys into C and validates them.
func adapterConfig[C any, P interface {
	*C
	Validate() error
}](d Destination) (C, error) {
	var c C
	if err := d.Node.Decode(&c); err != nil {
		return c, err
	}
	return c, P(&c).Validate()
}

// validateAdapter decodes and validates d's type-specific keys; the error starts with the offending key.
func validateAdapter(d Destination) error {
	if t, ok := adapterTypes[d.Type]; ok {
		return t.validate(d)
	}
	return nil
}

func destinationTypes() []string {
	var out []string
	for t := range adapterTypes {
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
	t, ok := adapterTypes[d.Type]
	if !ok {
		return nil, fmt.Errorf("destination %s: unknown type %q", d.Name, d.Type)
	}
	opts := crm.Options{HTTPClient: deps.HTTPClient, Throttle: deps.Throttle, Now: deps.Now, Location: d.Location, Logger: deps.Logger}
	return t.build(d, opts, deps)
}
