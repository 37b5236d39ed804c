package main

import (
	"fmt"
)

func cmdForget(e *env, args []string) error {
	fs, path := e.flags("forget")
	number := fs.String("number", "", "the person's phone number (any format)")
	email := fs.String("email", "", "the person's email")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{"unexpected argument " + pos[0]}
	}
	if (*number == "") == (*email == "") {
		return usageError{"give exactly one of --number or --email"}
	}
	cfg, err := e.loadConfig(*path)
	if err != nil {
		return err
	}
	api, done, err := e.admin(cfg, true)
	if err != nil {
		return err
	}
	defer done()
	n, err := api.Forget(*number, *email)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d stored event(s) erased; what was already logged in a CRM or written to a log destination is not touched\n", n)
	return nil
}
