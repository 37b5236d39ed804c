package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/onoffsync/onoffsync/crm"
)

// problemLines returns the problems of a load error, one formatted string each.
func problemLines(tb testing.TB, err error) []string {
	tb.Helper()
	if err == nil {
		return nil
	}
	var me *Error
	if !errors.As(err, &me) {
		tb.Fatalf("error is %T (%v), want *Error", err, err)
	}
	if got, want := me.Error(), strings.Join(lines(me), "\n"); got != want {
		tb.Errorf("Error() = %q, want the problems one per line %q", got, want)
	}
	return lines(me)
}

func lines(e *Error) []string {
	var out []string
	for _, p := range e.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		crm  string
		yaml string
		want []string
	}{
		{
			name: "unknown key",
			crm:  "hubspot",
			yaml: "version: 1\nmatch:\n  keys: [phone]\n  on_nomatch: skip\n",
			want: []string{`m.yaml:4: match.on_nomatch: unknown key "on_nomatch" (want one of keys, on_no_match, park_for, park_recheck, park_then, phone_fields, prefer)`},
		},
		{
			name: "unknown top-level key",
			yaml: "version: 1\nactivities: {}\n",
			want: []string{`m.yaml:2: activities: unknown key "activities" (want one of activity, calls, contact_updates, create, match, owner, skip, version)`},
		},
		{
			name: "template syntax",
			crm:  "hubspot",
			yaml: "activity:\n  fields:\n    hs_communication_body: \"{{ .Event.Body \"\n",
			want: []string{`m.yaml:3: activity.fields.hs_communication_body: template: unclosed action`},
		},
		{
			name: "template syntax on a later line of a block",
			crm:  "salesforce",
			yaml: "activity:\n  fields:\n    Subject: x\n    Description: |\n      line one\n      {{ if .Event.Sent }}\n      sent\n",
			want: []string{`m.yaml:7: activity.fields.Description: template: unexpected EOF`},
		},
		{
			name: "unknown template field",
			crm:  "hubspot",
			yaml: "activity:\n  fields:\n    hs_communication_body: |-\n      {{ .Event.Body }}\n      {{ if .Event.Sent }}{{ .Event.Bodyy }}{{ end }}\n",
			want: []string{`m.yaml:5: activity.fields.hs_communication_body: template: unknown field .Event.Bodyy (known: ID, Direction, Sent, Received, Date, LocalDate, Body, UserName, UserEmail, UserNumber, External, ExternalNumber, ExternalName, ExternalEmail, ExternalCompany)`},
		},
		{
			name: "unknown template root and phone field",
			crm:  "log",
			yaml: "activity:\n  fields:\n    a: \"{{ .Evnt.Body }}\"\n    b: \"{{ .Event.External.Nope }}\"\n    c: \"{{ $.Contact.Mail }}\"\n",
			want: []string{
				`m.yaml:3: activity.fields.a: template: unknown field .Evnt (known: Event, Call, Contact, Owner)`,
				`m.yaml:4: activity.fields.b: template: unknown field .Event.External.Nope (known: Raw, E164, National, Trunk, Region)`,
				`m.yaml:5: activity.fields.c: template: unknown field .Contact.Mail (known: ID, Kind, Name, FirstName, LastName, Email, OwnerID, CompanyID)`,
			},
		},
		{
			name: "unknown function",
			crm:  "log",
			yaml: "activity:\n  fields:\n    text: \"{{ .Event.Body | shout }}\"\n",
			want: []string{`m.yaml:3: activity.fields.text: template: function "shout" not defined`},
		},
		{
			name: "template fails when executed",
			crm:  "log",
			yaml: "activity:\n  fields:\n    text: '{{ truncate \"ten\" .Event.Body }}'\n",
			want: []string{`m.yaml:3: activity.fields.text: template: <"ten">: expected integer; found "ten"`},
		},
		{
			name: "bad enums",
			crm:  "salesforce",
			yaml: "match:\n  keys: [phone, fax, phone]\n  prefer: [newest]\n  on_no_match: ignore\ncreate:\n  kind: person\nskip:\n  - direction: OUT\n",
			want: []string{
				`m.yaml:2: match.keys[1]: "fax" is not one of phone, email`,
				`m.yaml:2: match.keys[2]: "phone" is listed twice`,
				`m.yaml:3: match.prefer[0]: "newest" is not one of contact_before_lead, lead_before_contact, most_recently_modified, least_recently_modified`,
				`m.yaml:4: match.on_no_match: "ignore" is not one of create, log_without_contact, skip, park`,
				`m.yaml:6: create.kind: "person" is not one of contact, lead`,
				`m.yaml:8: skip[0].direction: "OUT" is not one of SENT, RECEIVED, INBOUND, OUTBOUND`,
				`m.yaml:8: skip[0]: a skip rule needs at least one condition (external_number, user_email, user_number, direction)`,
			},
		},
		{
			name: "park settings",
			crm:  "hubspot",
			yaml: "match:\n  on_no_match: park\n  park_recheck: 500ms\n  park_for: a week\n  park_then: create\n",
			want: []string{
				`m.yaml:3: match.park_recheck: 500ms is shorter than the least accepted, 1s`,
				`m.yaml:4: match.park_for: "a week" is not a duration (e.g. 30s, 1h, 168h)`,
				`m.yaml:5: match.park_then: "create" is not one of log_without_contact, skip`,
			},
		},
		{
			name: "park without keys, and on the log destination",
			crm:  "log",
			yaml: "match:\n  keys: []\n  on_no_match: park\n",
			want: []string{
				`m.yaml:3: match.on_no_match: park needs at least one match key (match.keys), or no parked SMS could ever match`,
				`m.yaml:3: match.on_no_match: the log destination has no contacts to wait for`,
			},
		},
		{
			name: "hubspot kind lead",
			crm:  "hubspot",
			yaml: "create:\n  kind: lead\n",
			want: []string{`m.yaml:2: create.kind: HubSpot has no leads to create here: use contact`},
		},
		{
			name: "hubspot body missing",
			crm:  "hubspot",
			yaml: "activity:\n  fields:\n    hs_communication_subject: hi\n",
			want: []string{`m.yaml:2: activity.fields: hs_communication_body is required`},
		},
		{
			name: "salesforce subject missing and lead without company",
			crm:  "salesforce",
			yaml: "create:\n  kind: lead\n  last_name: x\n  company: \"\"\nactivity:\n  fields:\n    Description: hi\n",
			want: []string{
				`m.yaml:1: create.company: required to create a Salesforce lead (Company)`,
				`m.yaml:6: activity.fields: Subject is required`,
			},
		},
		{
			name: "field names per crm",
			crm:  "hubspot",
			yaml: "activity:\n  id_field: Onoff_Id\n  fields:\n    hs_communication_body: x\n    hs_timestamp: y\n    Bad-Name: z\n",
			want: []string{
				`m.yaml:2: activity.id_field: "Onoff_Id" is not a valid hubspot field name`,
				`m.yaml:5: activity.fields.hs_timestamp: set by the adapter; remove it from the mapping`,
				`m.yaml:6: activity.fields.Bad-Name: "Bad-Name" is not a valid hubspot field name`,
			},
		},
		{
			name: "salesforce id field",
			crm:  "salesforce",
			yaml: "activity:\n  id_field: Onoff_Id\n  id_field_unique: yes\n",
			want: []string{
				`m.yaml:2: activity.id_field: "Onoff_Id" is not a custom field (an external-ID field ends in __c)`,
				`m.yaml:3: activity.id_field_unique: want true or false, got "yes"`,
			},
		},
		{
			name: "unique id without id field",
			crm:  "hubspot",
			yaml: "activity:\n  id_field_unique: true\n",
			want: []string{`m.yaml:2: activity.id_field_unique: needs activity.id_field naming a field (auto reads uniqueness from the CRM)`},
		},
		{
			name: "create without keys, and on log",
			crm:  "log",
			yaml: "match:\n  on_no_match: create\n",
			want: []string{
				`m.yaml:2: match.on_no_match: create needs at least one match key (match.keys), or every SMS would create a contact`,
				`m.yaml:2: match.on_no_match: the log destination cannot create contacts`,
			},
		},
		{
			name: "owner map",
			crm:  "hubspot",
			yaml: "owner:\n  map:\n    john: \"1\"\n    A@x.fr: \"2\"\n    a@X.fr: \"3\"\n    b@x.fr: \"\"\n",
			want: []string{
				`m.yaml:3: owner.map.john: "john" is not an email address`,
				`m.yaml:5: owner.map.a@X.fr: "a@X.fr" is listed twice (emails are compared without case)`,
				`m.yaml:6: owner.map.b@x.fr: empty owner id`,
			},
		},
		{
			name: "bad pattern and wrong shapes",
			crm:  "hubspot",
			yaml: "skip:\n  - external_number: [\"[\"]\nmatch: [phone]\nversion: 2\n",
			want: []string{
				`m.yaml:2: skip[0].external_number[0]: bad pattern "[": syntax error in pattern`,
				`m.yaml:3: match: want a mapping of keys (keys, on_no_match, park_for, park_recheck, park_then, phone_fields, prefer)`,
				`m.yaml:4: version: unsupported version "2" (want 1)`,
			},
		},
		{
			name: "repeated key",
			crm:  "log",
			yaml: "owner:\n  default: a\n  default: b\n",
			want: []string{`m.yaml:3: owner.default: repeated key`},
		},
		{
			name: "yaml syntax",
			crm:  "hubspot",
			yaml: "match:\n  keys: [phone\n",
			want: []string{`m.yaml:1: did not find expected ',' or ']'`},
		},
		{
			name: "two documents",
			crm:  "hubspot",
			yaml: "version: 1\n---\nversion: 1\n",
			want: []string{`m.yaml:2: a mapping file holds one YAML document`},
		},
		{
			name: "several problems together",
			crm:  "hubspot",
			yaml: "version: 1\nmatch:\n  on_no_match: nope\nowner:\n  from_user_email: 1\n  extra: x\nactivity:\n  fields:\n    hs_communication_body: \"{{ .Event.Nope }}\"\n",
			want: []string{
				`m.yaml:3: match.on_no_match: "nope" is not one of create, log_without_contact, skip, park`,
				`m.yaml:5: owner.from_user_email: want true or false, got "1"`,
				`m.yaml:6: owner.extra: unknown key "extra" (want one of default, from_user_email, map)`,
				`m.yaml:9: activity.fields.hs_communication_body: template: unknown field .Event.Nope (known: ID, Direction, Sent, Received, Date, LocalDate, Body, UserName, UserEmail, UserNumber, External, ExternalNumber, ExternalName, ExternalEmail, ExternalCompany)`,
			},
		},
		{
			name: "valid",
			crm:  "salesforce",
			yaml: "match:\n  on_no_match: skip\nactivity:\n  id_field: Onoff_Message_Id__c\n  fields:\n    Subject: '{{ truncate 255 .Event.Body }}'\n",
		},
		{
			name: "empty document is the built-in",
			crm:  "hubspot",
			yaml: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("m.yaml", []byte(tt.yaml), Options{CRM: tt.crm})
			got := problemLines(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if err == nil && m == nil {
				t.Error("nil Mapping with nil error")
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "m.yaml", Line: 3, Field: "match.keys", Msg: "bad"}, "m.yaml:3: match.keys: bad"},
		{Problem{File: "m.yaml", Line: 3, Msg: "bad"}, "m.yaml:3: bad"},
		{Problem{File: "m.yaml", Msg: "bad"}, "m.yaml: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hubspot.yaml")
	if err := os.WriteFile(path, []byte("match:\n  on_no_match: skip\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Source(); got != path {
		t.Errorf("Source() = %q, want %q", got, path)
	}
	if got := m.NoMatch(); got != NoMatchSkip {
		t.Errorf("NoMatch() = %q, want skip", got)
	}
	// Keys left out come from the built-in.
	if got := len(m.Queries(crm.SMS{External: crm.ParsePhone("+33612345678", ""), ExternalEmail: "a@b.fr"})); got != 2 {
		t.Errorf("built-in match keys not inherited: %d queries, want 2", got)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	if _, err := Parse("m.yaml", nil, Options{CRM: "pipedrive"}); err == nil {
		t.Error("Parse with an unknown CRM succeeded")
	}
}

func TestDefault(t *testing.T) {
	for _, c := range crmNames {
		t.Run(c, func(t *testing.T) {
			data, err := Default(c)
			if err != nil {
				t.Fatal(err)
			}
			// The printed default parses as a user mapping, with and without the CRM's base.
			for _, base := range []string{c, ""} {
				if _, err := Parse(c+".yaml", data, Options{CRM: base}); err != nil {
					t.Errorf("Parse(Default(%q)) with CRM %q: %v", c, base, err)
				}
			}
			m, err := LoadDefault(Options{CRM: c})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.Source(), "built-in "+c; got != want {
				t.Errorf("Source() = %q, want %q", got, want)
			}
		})
	}
	if _, err := Default("pipedrive"); err == nil {
		t.Error("Default(pipedrive) succeeded")
	}
	if _, err := LoadDefault(Options{}); err == nil {
		t.Error("LoadDefault without a CRM succeeded")
	}
}

func TestBuiltinPolicies(t *testing.T) {
	tests := []struct {
		crm           string
		noMatch       string
		prefer        []string
		kind          string
		fromUserEmail bool
	}{
		{"hubspot", NoMatchCreate, []string{PreferRecent}, crm.KindContact, true},
		{"salesforce", NoMatchCreate, []string{PreferContactBeforeLead, PreferRecent}, crm.KindLead, true},
		{"log", NoMatchLog, []string{PreferRecent}, crm.KindContact, false},
	}
	for _, tt := range tests {
		t.Run(tt.crm, func(t *testing.T) {
			m, err := LoadDefault(Options{CRM: tt.crm})
			if err != nil {
				t.Fatal(err)
			}
			got := []any{m.NoMatch(), m.s.prefer, m.s.kind, m.OwnerFromUserEmail()}
			want := []any{tt.noMatch, tt.prefer, tt.kind, tt.fromUserEmail}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNodeLines(t *testing.T) {
	config := `# onoffsync config
listen: ":8080"
destinations:
  - name: hubspot-main
    crm: hubspot
    mapping:
      match:
        on_no_match: maybe
      activity:
        fields:
          hs_communication_body: "{{ .Event.Text }}"
`
	var doc struct {
		Destinations []struct {
			Mapping yaml.Node `yaml:"mapping"`
		} `yaml:"destinations"`
	}
	if err := yaml.Unmarshal([]byte(config), &doc); err != nil {
		t.Fatal(err)
	}
	_, err := ParseNode("onoffsync.yaml", &doc.Destinations[0].Mapping, Options{CRM: "hubspot"})
	want := []string{
		`onoffsync.yaml:8: match.on_no_match: "maybe" is not one of create, log_without_contact, skip, park`,
		`onoffsync.yaml:11: activity.fields.hs_communication_body: template: unknown field .Event.Text (known: ID, Direction, Sent, Received, Date, LocalDate, Body, UserName, UserEmail, UserNumber, External, ExternalNumber, ExternalName, ExternalEmail, ExternalCompany)`,
	}
	if diff := cmp.Diff(want, problemLines(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func mustParse(tb testing.TB, crmName, doc string) *Mapping {
	tb.Helper()
	m, err := Parse("test.yaml", []byte(doc), Options{CRM: crmName})
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return m
}

func TestSkip(t *testing.T) {
	m := mustParse(t, "hubspot", `
skip:
  - name: colleagues
    external_number: ["+33612345*", "+4477009001??"]
  - user_email: ["*@Support.example.com"]
    direction: RECEIVED
  - name: short codes
    external_number: ["AMAZON", "3617?"]
  - name: test line
    user_number: ["+3369876543?"]
    direction: SENT
`)
	ev := func(dir, ext, userEmail, userNumber string) crm.SMS {
		return crm.SMS{Direction: dir, External: crm.ParsePhone(ext, "FR"), UserEmail: userEmail,
			UserNumber: crm.ParsePhone(userNumber, "FR")}
	}
	tests := []struct {
		name string
		ev   crm.SMS
		want string
	}{
		{"e164 prefix", ev("SENT", "+33612345699", "", ""), "colleagues"},
		{"national number matched as E.164", ev("RECEIVED", "06 12 34 56 01", "", ""), "colleagues"},
		{"? is one character", ev("SENT", "+447700900123", "", ""), "colleagues"},
		{"? needs a character", ev("SENT", "+44770090012", "", ""), ""},
		{"other number", ev("SENT", "+33700000000", "", ""), ""},
		{"email glob is case-insensitive, direction ANDed", ev("RECEIVED", "+33700000000", "ann@support.EXAMPLE.com", ""), "skip rule 2 (test.yaml:5)"},
		{"email matches but direction not", ev("SENT", "+33700000000", "ann@support.example.com", ""), ""},
		{"alphanumeric sender matched raw", ev("RECEIVED", "amazon", "", ""), "short codes"},
		{"short code", ev("RECEIVED", "36179", "", ""), "short codes"},
		{"user number and direction", ev("SENT", "+33700000000", "", "+33698765432"), "test line"},
		{"user number, other direction", ev("RECEIVED", "+33700000000", "", "+33698765432"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Skip(tt.ev); got != tt.want {
				t.Errorf("Skip() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPick(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	oldContact := crm.Contact{ID: "c-old", Kind: crm.KindContact, LastModified: t0}
	newContact := crm.Contact{ID: "c-new", Kind: crm.KindContact, LastModified: t0.Add(time.Hour)}
	newestLead := crm.Contact{ID: "l-newest", Kind: crm.KindLead, LastModified: t0.Add(2 * time.Hour)}
	tie := crm.Contact{ID: "c-tie", Kind: crm.KindContact, LastModified: t0}
	tests := []struct {
		name   string
		prefer string
		cs     []crm.Contact
		want   string
	}{
		{"recent", "[most_recently_modified]", []crm.Contact{oldContact, newestLead, newContact}, "l-newest"},
		{"contact before lead, then recent", "[contact_before_lead, most_recently_modified]", []crm.Contact{oldContact, newestLead, newContact}, "c-new"},
		{"lead before contact", "[lead_before_contact]", []crm.Contact{oldContact, newestLead}, "l-newest"},
		{"oldest", "[least_recently_modified]", []crm.Contact{newContact, oldContact}, "c-old"},
		{"ties keep CRM order", "[most_recently_modified]", []crm.Contact{tie, oldContact}, "c-tie"},
		{"no policy keeps CRM order", "[]", []crm.Contact{oldContact, newContact}, "c-old"},
		{"one", "[contact_before_lead]", []crm.Contact{newestLead}, "l-newest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, "salesforce", "match:\n  prefer: "+tt.prefer+"\n")
			in := append([]crm.Contact(nil), tt.cs...)
			if got := m.Pick(tt.cs); got.ID != tt.want {
				t.Errorf("Pick() = %q, want %q", got.ID, tt.want)
			}
			if diff := cmp.Diff(in, tt.cs); diff != "" {
				t.Errorf("Pick modified its argument:\n%s", diff)
			}
		})
	}
	if got := mustParse(t, "salesforce", "").Pick(nil); got.ID != "" {
		t.Errorf("Pick(nil) = %+v, want zero", got)
	}
}

func TestQueries(t *testing.T) {
	national := crm.ParsePhone("06 12 34 56 78", crm.RegionFor("+33698765432", "US"))
	uk := crm.ParsePhone("07700 900123", "GB")
	tests := []struct {
		name string
		doc  string
		ev   crm.SMS
		want []string // query keys
	}{
		{"phone then email", "", crm.SMS{External: national, ExternalEmail: " Jane@Example.COM "}, []string{"phone:+33612345678", "email:jane@example.com"}},
		{"email then phone", "match:\n  keys: [email, phone]\n", crm.SMS{External: uk, ExternalEmail: "a@b.fr"}, []string{"email:a@b.fr", "phone:+447700900123"}},
		{"invalid number: no phone query", "", crm.SMS{External: crm.ParsePhone("AMAZON", "FR"), ExternalEmail: "a@b.fr"}, []string{"email:a@b.fr"}},
		{"no email", "", crm.SMS{External: national}, []string{"phone:+33612345678"}},
		{"no keys", "match:\n  keys: []\n  on_no_match: skip\n", crm.SMS{External: national, ExternalEmail: "a@b.fr"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, "hubspot", tt.doc)
			var got []string
			for _, q := range m.Queries(tt.ev) {
				got = append(got, q.Key())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("query keys (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("phone fields and region", func(t *testing.T) {
		m := mustParse(t, "hubspot", "match:\n  phone_fields: [phone, mobilephone]\n")
		qs := m.Queries(crm.SMS{External: national, ExternalEmail: "a@b.fr"})
		want := []crm.ContactQuery{
			{Phone: national, PhoneFields: []string{"phone", "mobilephone"}},
			{Email: "a@b.fr"},
		}
		if diff := cmp.Diff(want, qs); diff != "" {
			t.Errorf("Queries (-want +got):\n%s", diff)
		}
		if qs[0].Phone.Region != "FR" {
			t.Errorf("region = %q, want FR", qs[0].Phone.Region)
		}
		qs[0].PhoneFields[0] = "changed"
		if again := m.Queries(crm.SMS{External: national}); again[0].PhoneFields[0] != "phone" {
			t.Error("a caller changing PhoneFields changed the mapping")
		}
	})
}

func TestOwner(t *testing.T) {
	m := mustParse(t, "hubspot", "owner:\n  from_user_email: false\n  map: {\"John.Doe@Example.com\": \"41629779\"}\n  default: \"1\"\n")
	if m.OwnerFromUserEmail() {
		t.Error("OwnerFromUserEmail() = true, want false")
	}
	if id, ok := m.StaticOwner("JOHN.DOE@example.COM"); !ok || id != "41629779" {
		t.Errorf("StaticOwner = %q, %v; want 41629779, true", id, ok)
	}
	if id, ok := m.StaticOwner("other@example.com"); ok {
		t.Errorf("StaticOwner(other) = %q, true; want false", id)
	}
	if got := m.DefaultOwner(); got != "1" {
		t.Errorf("DefaultOwner() = %q, want 1", got)
	}
}

func TestApply(t *testing.T) {
	ev := crm.SMS{ID: "sms-9", Direction: "RECEIVED", Date: time.Date(2024, 5, 20, 14, 30, 0, 0, time.UTC), Body: "hi",
		External: crm.ParsePhone("+33612345678", "")}
	contact := &crm.Contact{ID: "101", Kind: crm.KindContact, CompanyID: "9001", Name: "Jane Smith"}
	lead := &crm.Contact{ID: "00Q1", Kind: crm.KindLead, CompanyID: "001X"}
	doc := `
activity:
  id_field: onoff_message_id
  id_field_unique: true
  associate_company: true
  fields:
    hs_communication_body: "{{ .Event.Body }} for {{ with .Contact.Name }}{{ . }}{{ else }}nobody{{ end }} by {{ .Owner }}"
    hs_communication_subject: "{{ if .Contact.ID }}known{{ end }}"
`
	m := mustParse(t, "hubspot", doc)
	tests := []struct {
		name string
		c    *crm.Contact
		want crm.Activity
	}{
		{"contact with company", contact, crm.Activity{SourceID: "sms-9", ContactID: "101", ContactKind: "contact", CompanyID: "9001",
			OwnerID: "7", Timestamp: ev.Date, IDField: "onoff_message_id", IDFieldUnique: true,
			Fields: map[string]string{"hs_communication_body": "hi for Jane Smith by 7", "hs_communication_subject": "known"}}},
		{"lead: never a company", lead, crm.Activity{SourceID: "sms-9", ContactID: "00Q1", ContactKind: "lead",
			OwnerID: "7", Timestamp: ev.Date, IDField: "onoff_message_id", IDFieldUnique: true,
			Fields: map[string]string{"hs_communication_body": "hi for nobody by 7", "hs_communication_subject": "known"}}},
		{"no contact; blank field left out", nil, crm.Activity{SourceID: "sms-9", OwnerID: "7", Timestamp: ev.Date,
			IDField: "onoff_message_id", IDFieldUnique: true,
			Fields: map[string]string{"hs_communication_body": "hi for nobody by 7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Apply(ev, tt.c, "7")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no company unless asked", func(t *testing.T) {
		got, err := mustParse(t, "hubspot", "").Apply(ev, contact, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.CompanyID != "" {
			t.Errorf("CompanyID = %q, want none", got.CompanyID)
		}
	})
}

func TestNewContact(t *testing.T) {
	ev := crm.SMS{ID: "sms-1", External: crm.ParsePhone("+33612345678", ""), ExternalName: "  Jane   Mary Smith ",
		ExternalEmail: "Jane@Example.com"}
	m := mustParse(t, "salesforce", "create:\n  kind: contact\n  company: \"\"\n  fields:\n    LeadSource: Onoff\n    Title: \"{{ .Event.ExternalCompany }}\"\n")
	got, err := m.NewContact(ev, "005X")
	if err != nil {
		t.Fatal(err)
	}
	want := crm.NewContact{Kind: crm.KindContact, FirstName: "Jane Mary", LastName: "Smith", Email: "jane@example.com",
		Phone: ev.External, OwnerID: "005X", Fields: map[string]string{"LeadSource": "Onoff"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewContact (-want +got):\n%s", diff)
	}

	noID := crm.SMS{ID: "sms-2", External: crm.ParsePhone("AMAZON", "FR")}
	if _, err := m.NewContact(noID, ""); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("NewContact(no number, no email) = %v, want ErrNoIdentity", err)
	}
	emailOnly := crm.SMS{ID: "sms-3", External: crm.ParsePhone("AMAZON", "FR"), ExternalEmail: "a@b.fr"}
	if _, err := mustParse(t, "salesforce", "create:\n  last_name: \"{{ .Event.ExternalName }}\"\n").NewContact(emailOnly, ""); err == nil || !strings.Contains(err.Error(), "LastName") {
		t.Errorf("NewContact with an empty LastName on Salesforce = %v, want an error naming LastName", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	m, err := LoadDefault(Options{CRM: "hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	ev := readEvent(t, "testdata/events/html_newlines.json")
	want, err := m.Apply(ev, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := m.Apply(ev, nil, "")
				if err != nil || !cmp.Equal(got, want) {
					t.Errorf("concurrent Apply = %+v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestParkSettings: the park keys default to 1h, 168h and log_without_contact; written ones are read, and the
// calls section inherits them unless it writes its own.
func TestParkSettings(t *testing.T) {
	tests := []struct {
		name, yaml string
		sms, calls []any
	}{
		{"defaults", "match:\n  on_no_match: park\n",
			[]any{NoMatchPark, time.Hour, 168 * time.Hour, NoMatchLog}, []any{NoMatchPark, time.Hour, 168 * time.Hour, NoMatchLog}},
		{"written", "match:\n  on_no_match: park\n  park_recheck: 1s\n  park_for: 72h\n  park_then: skip\ncalls:\n  match:\n    park_for: 2h\n",
			[]any{NoMatchPark, time.Second, 72 * time.Hour, NoMatchSkip}, []any{NoMatchPark, time.Second, 2 * time.Hour, NoMatchSkip}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("m.yaml", []byte(tt.yaml), Options{CRM: "hubspot"})
			if err != nil {
				t.Fatal(err)
			}
			c := m.For(crm.SMS{Call: &crm.Call{}})
			for _, v := range []struct {
				m    *Mapping
				want []any
			}{{m, tt.sms}, {c, tt.calls}} {
				got := []any{v.m.NoMatch(), v.m.ParkRecheck(), v.m.ParkFor(), v.m.ParkThen()}
				if diff := cmp.Diff(v.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}
