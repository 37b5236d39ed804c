package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// TestSetupHubSpot: a dry run prints what it would create and creates nothing; setup creates
// onoff_message_id on communications and calls; a second run says it exists and creates nothing; check
// --online tells the content look-up before and the exact id field after.
func TestSetupHubSpot(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{Tokens: []string{"pat-good"}})
	defer hs.Close()
	cfg := writeConfig(t, minimalConfig+fmt.Sprintf("  - {name: hs, type: hubspot, token: pat-good, base_url: %q}\n", hs.URL))
	env := map[string]string{"ONOFF_API_KEY": "k"}

	code, out, errs := runCmd(t, env, "check", "--online", "--config", cfg)
	if code != 0 || !strings.Contains(out, "never twice: SMS and calls: content look-up") {
		t.Errorf("check before setup: exit %d, %s %s; want the content look-up", code, out, errs)
	}

	code, out, errs = runCmd(t, env, "setup", "--destination", "hs", "--dry-run", "--config", cfg)
	if code != 0 || strings.Count(out, "onoff_message_id: would create") != 2 || hs.Calls(hubspottest.PropertiesCreate) != 0 {
		t.Errorf("dry run: exit %d, %s %s, %d creates; want two planned, none sent", code, out, errs, hs.Calls(hubspottest.PropertiesCreate))
	}

	code, out, errs = runCmd(t, env, "setup", "--destination", "hs", "--config", cfg)
	if code != 0 || !strings.Contains(out, "communications property onoff_message_id: created") ||
		!strings.Contains(out, "calls property onoff_message_id: created") || !strings.Contains(out, "done: reload") {
		t.Errorf("setup: exit %d, %s %s", code, out, errs)
	}

	code, out, errs = runCmd(t, env, "setup", "--destination", "hs", "--config", cfg)
	if code != 0 || strings.Count(out, "onoff_message_id: exists") != 2 || !strings.Contains(out, "nothing to do") ||
		hs.Calls(hubspottest.PropertiesCreate) != 2 {
		t.Errorf("second run: exit %d, %s %s, %d creates in all; want both existing, 2 creates", code, out, errs, hs.Calls(hubspottest.PropertiesCreate))
	}

	code, out, errs = runCmd(t, env, "check", "--online", "--config", cfg)
	if code != 0 || !strings.Contains(out, "never twice: SMS and calls: id field onoff_message_id (exact)") {
		t.Errorf("check after setup: exit %d, %s %s; want the exact id field", code, out, errs)
	}
}

// TestSetupErrors: a missing scope is one line naming it (exit 1); a bad command line exits 2; the log
// destination has nothing to set up.
func TestSetupErrors(t *testing.T) {
	hs := hubspottest.New(hubspottest.Options{Tokens: []string{"pat-good"},
		Scopes: []string{"crm.objects.contacts.read", "crm.objects.contacts.write"}})
	defer hs.Close()
	cfg := writeConfig(t, minimalConfig+fmt.Sprintf("  - {name: hs, type: hubspot, token: pat-good, base_url: %q}\n", hs.URL))
	env := map[string]string{"ONOFF_API_KEY": "k"}

	code, _, errs := runCmd(t, env, "setup", "--destination", "hs", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "crm.schemas.contacts.write") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("missing scope: exit %d, stderr %q; want 1 and one line naming crm.schemas.contacts.write", code, errs)
	}
	if code, _, errs := runCmd(t, env, "setup", "--config", cfg); code != 2 || !strings.Contains(errs, "--destination") {
		t.Errorf("no destination: exit %d, %q; want 2", code, errs)
	}
	if code, _, errs := runCmd(t, env, "setup", "--destination", "nope", "--config", cfg); code != 1 || !strings.Contains(errs, `no destination "nope"`) {
		t.Errorf("unknown destination: exit %d, %q; want 1", code, errs)
	}
	if code, out, errs := runCmd(t, env, "setup", "--destination", "audit", "--config", cfg); code != 0 || !strings.Contains(out, "nothing to set up") {
		t.Errorf("log destination: exit %d, %s %s", code, out, errs)
	}
}

// TestSetupSalesforce: a dry run sends no write; a user without "Customize Application" gets an admin's exact
// steps on stdout and one line naming the permission (exit 1); with it, setup creates the field and the
// permission set, a second run finds them, and check --online then names the exact id field.
func TestSetupSalesforce(t *testing.T) {
	for _, lacks := range []bool{true, false} {
		sf := salesforcetest.New(salesforcetest.Options{ClientID: "id", ClientSecret: "secret", LacksCustomizeApplication: lacks})
		defer sf.Close()
		cfg := writeConfig(t, minimalConfig+fmt.Sprintf("  - {name: sf, type: salesforce, login_url: %q, auth: client_credentials, client_id: id, client_secret: secret}\n", sf.URL()))
		env := map[string]string{"ONOFF_API_KEY": "k"}
		writes := func() int {
			return sf.Calls(salesforcetest.EndpointCustomFieldCreate) + sf.Calls(salesforcetest.EndpointCreate)
		}
		code, out, errs := runCmd(t, env, "setup", "--destination", "sf", "--dry-run", "--config", cfg)
		if code != 0 || strings.Count(out, ": would create") != 4 || writes() != 0 {
			t.Errorf("dry run: exit %d, %s %s, %d writes; want 4 planned steps, no write", code, out, errs, writes())
		}
		code, out, errs = runCmd(t, env, "setup", "--destination", "sf", "--config", cfg)
		if lacks {
			if code != 1 || !strings.Contains(out, "Object Manager > Activity") || !strings.Contains(out, "Manage Assignments") ||
				!strings.Contains(errs, `"Customize Application"`) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("without Customize Application: exit %d, stdout %s, stderr %q", code, out, errs)
			}
			continue
		}
		if code != 0 || strings.Count(out, ": created") != 4 {
			t.Errorf("setup: exit %d, %s %s", code, out, errs)
		}
		n := writes()
		code, out, errs = runCmd(t, env, "setup", "--destination", "sf", "--config", cfg)
		if code != 0 || strings.Count(out, ": exists") != 4 || writes() != n {
			t.Errorf("second run: exit %d, %s %s, %d more writes", code, out, errs, writes()-n)
		}
		code, out, errs = runCmd(t, env, "check", "--online", "--config", cfg)
		if code != 0 || !strings.Contains(out, "never twice: SMS and calls: id field Onoff_Message_Id__c (exact)") {
			t.Errorf("check after setup: exit %d, %s %s", code, out, errs)
		}
	}
}
