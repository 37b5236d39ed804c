package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/onoffsync/onoffsync/connector"
	"github.com/onoffsync/onoffsync/mapping"
)

func cmdMapping(e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"want default TYPE or preview"}
	}
	switch args[0] {
	case "default":
		if len(args) != 2 {
			return usageError{"mapping default takes one type: hubspot, salesforce or log"}
		}
		data, err := mapping.Default(args[1])
		if err != nil {
			return usageError{err.Error()}
		}
		_, err = e.stdout.Write(data)
		return err
	case "preview":
		return cmdPreview(e, args[1:])
	}
	return usageError{"unknown mapping action " + args[0]}
}

func cmdPreview(e *env, args []string) error {
	fs, path := e.flags("mapping preview")
	dest := fs.String("destination", "", "destination name")
	payload := fs.String("payload", "", "a webhook body (JSON file)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *dest == "" || *payload == "" {
		return usageError{"--destination and --payload are required"}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	var d *connector.Destination
	for i := range cfg.Destinations {
		if cfg.Destinations[i].Name == *dest {
			d = &cfg.Destinations[i]
		}
	}
	if d == nil {
		return fmt.Errorf("%s: no destination named %q", *path, *dest)
	}
	body, err := os.ReadFile(*payload)
	if err != nil {
		return err
	}
	p, err := connector.Preview(*d, cfg.Phone.DefaultRegion, body)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(*payload), err)
	}
	return printJSON(e.stdout, p)
}
