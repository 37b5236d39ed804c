package salesforce_test

// Tests for issue 11 (items 10-15): each one fails when the adapter or the fake makes an assumption the real
// Salesforce refuses.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/crm/salesforce"
	"github.com/onoffsync/onoffsync/crm/salesforce/salesforcetest"
)

// assertionRecorder is a RoundTripper that keeps the JWT assertions posted to the token endpoint.
type assertionRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (r *assertionRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/services/oauth2/token") && req.Body != nil {
		if b, err := req.GetBody(); err == nil {
			raw, _ := io.ReadAll(b)
			if form, err := url.ParseQuery(string(raw)); err == nil && form.Get("assertion") != "" {
				r.mu.Lock()
				r.seen = append(r.seen, form.Get("assertion"))
				r.mu.Unlock()
			}
		}
	}
	return r.next.RoundTrip(req)
}

// Issue 11 item 10: Salesforce refuses an assertion whose aud is a JSON array; golang-jwt's
// RegisteredClaims.Audience marshals one. Source: ../shared/reference/salesforce.md ("JWT aud is one string").
func TestJWTAudienceIsOneString(t *testing.T) {
	keyPath, pub := writeKey(t)
	rec := &assertionRecorder{}
	e := newEnv(t, salesforcetest.Options{PublicKey: pub, Username: "int@example.com"},
		func(c *salesforce.Config, o *salesforce.Options) {
			c.Auth, c.ClientSecret, c.Username, c.PrivateKeyFile = salesforce.AuthJWT, "", "int@example.com", keyPath
			rec.next = o.HTTPClient.Transport
			o.HTTPClient = &http.Client{Transport: rec}
		})
	if _, err := e.c.Check(context.Background()); err != nil {
		t.Fatalf("Check with JWT bearer: %v", err)
	}
	rec.mu.Lock()
	seen := rec.seen
	rec.mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("saw %d assertions, want 1", len(seen))
	}
	parts := strings.Split(seen[0], ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if got := string(claims["aud"]); got != `"https://login.salesforce.com"` {
		t.Errorf("aud = %s, want one JSON string \"https://login.salesforce.com\"", got)
	}

	// The fake refuses what Salesforce refuses: the same claims with aud as a one-element array.
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	arr, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: testClientID, Subject: "int@example.com",
		Audience: jwt.ClaimStrings{"https://login.salesforce.com"}, ExpiresAt: jwt.NewNumericDate(t0.Add(time.Minute))}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {arr}}
	resp, err := e.srv.Client().PostForm(e.srv.URL()+"/services/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := decodeJSON(resp, &body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || body.Error != "invalid_grant" || body.Description != "audience is invalid" {
		t.Errorf("array aud: got %d %+v, want 400 invalid_grant \"audience is invalid\"", resp.StatusCode, body)
	}
}

// Issue 11 item 12: REQUEST_LIMIT_EXCEEDED is the daily cap only for TotalRequests (or api-usage at its
// maximum); the concurrency limits clear in seconds. Message texts: SalesforceLabs/OrgCheck#432
// ("ConcurrentRequests (Concurrent API Requests) Limit exceeded."), mautic/mautic#5006
// ("ConcurrentPerOrgLongTxn Limit exceeded."), SalesforceLabs/OrgCheck#181 ("TotalRequests Limit exceeded.").
func TestRequestLimitExceededKinds(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		usage     string // Sforce-Limit-Info on the refusal; "" for the fake's own
		daily     bool
		wantAfter time.Duration
	}{
		{"long transactions", salesforcetest.MsgConcurrentLongTxn, "", false, 5 * time.Second},
		{"concurrent requests", salesforcetest.MsgConcurrentRequests, "", false, 5 * time.Second},
		{"daily total", salesforcetest.MsgTotalRequests, "", true, 0},
		{"usage at its maximum", "Limit exceeded.", "api-usage=100000/100000", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, salesforcetest.Options{}, nil)
			ctx := context.Background()
			f := salesforcetest.RequestLimit(tt.msg, 1)
			if tt.usage != "" {
				f.Header = http.Header{"Sforce-Limit-Info": {tt.usage}}
			}
			e.srv.FailNext(salesforcetest.EndpointQuery, f)
			_, err := e.c.ResolveOwner(ctx, "a@example.com")
			ce := asCRM(t, err)
			if ce.Action != crm.RateLimited || ce.Code != "REQUEST_LIMIT_EXCEEDED" || ce.Daily != tt.daily {
				t.Fatalf("got %v (Daily %v), want RateLimited REQUEST_LIMIT_EXCEEDED with Daily %v", ce, ce.Daily, tt.daily)
			}
			if tt.daily {
				if !ce.Until.Equal(t0.Add(time.Hour)) {
					t.Errorf("Until = %v, want %v", ce.Until, t0.Add(time.Hour))
				}
				return
			}
			if !ce.Until.IsZero() || ce.RetryAfter != tt.wantAfter {
				t.Errorf("Until %v, RetryAfter %v: want no Until and RetryAfter %v", ce.Until, ce.RetryAfter, tt.wantAfter)
			}
			// Nothing is blocked: the next call goes out at once.
			calls := e.srv.DataCalls()
			if _, err := e.c.ResolveOwner(ctx, "b@example.com"); err != nil {
				t.Errorf("next call after a concurrency limit: %v", err)
			}
			if n := e.srv.DataCalls(); n != calls+1 {
				t.Errorf("%d calls after the concurrency limit, want 1", n-calls)
			}
		})
	}
}

// Issue 11 item 13: Salesforce counts string lengths in UTF-16 code units (an emoji is two; Salesforce Help
// 005166849, ../shared/reference/salesforce.md): Subject (255) and Description (32,000) are cut by that
// count, never inside a surrogate pair. The fake refuses STRING_TOO_LONG by the same count.
func TestTaskLengthsInUTF16(t *testing.T) {
	const smile = "\U0001F600" // one rune, two UTF-16 units
	tests := []struct {
		name, subject, description string
		wantSubject, wantDesc      string
	}{
		{"emoji on the limit", strings.Repeat("a", 254) + smile, "d",
			strings.Repeat("a", 254), "d"}, // 255 runes but 256 units: the emoji goes whole
		{"emoji fits", strings.Repeat("a", 253) + smile + smile, "d",
			strings.Repeat("a", 253) + smile, "d"},
		{"description of emojis", "s", strings.Repeat(smile, 16001),
			"s", strings.Repeat(smile, 16000)}, // 16,001 runes, 32,002 units
		{"accents are one unit", strings.Repeat("é", 300), strings.Repeat("é", 32001),
			strings.Repeat("é", 255), strings.Repeat("é", 32000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, salesforcetest.Options{}, nil)
			lid := e.srv.SeedLead(salesforcetest.Person{LastName: "Lead", Company: "Acme"})
			res, err := e.c.LogActivities(context.Background(), []crm.Activity{{SourceID: "1", ContactID: lid,
				ContactKind: crm.KindLead, Timestamp: t0, Fields: map[string]string{"Subject": tt.subject, "Description": tt.description}}})
			if err != nil {
				t.Fatalf("LogActivities: %v", err)
			}
			if res[0].Err != nil {
				t.Fatalf("result: %v", res[0].Err)
			}
			task, _ := e.srv.Get(res[0].ID)
			if got := str(task.Fields["Subject"]); got != tt.wantSubject {
				t.Errorf("Subject = %.20q... (%d bytes), want %.20q... (%d bytes)", got, len(got), tt.wantSubject, len(tt.wantSubject))
			}
			if got := str(task.Fields["Description"]); got != tt.wantDesc {
				t.Errorf("Description = %d bytes, want %d bytes", len(got), len(tt.wantDesc))
			}
		})
	}

	// The fake refuses what Salesforce refuses: 255 runes that are 256 UTF-16 units.
	e := newEnv(t, salesforcetest.Options{}, nil)
	tok := sessionToken(t, e)
	body := `{"Subject":"` + strings.Repeat("a", 254) + smile + `"}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL()+"/services/data/v66.0/sobjects/Task", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var errs []struct {
		ErrorCode string   `json:"errorCode"`
		Message   string   `json:"message"`
		Fields    []string `json:"fields"`
	}
	if err := decodeJSON(resp, &errs); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || len(errs) != 1 || errs[0].ErrorCode != "STRING_TOO_LONG" ||
		!strings.HasPrefix(errs[0].Message, "Subject: data value too large: ") || !strings.HasSuffix(errs[0].Message, "(max length=255)") {
		t.Errorf("Subject of 256 UTF-16 units: got %d %+v, want 400 STRING_TOO_LONG \"Subject: data value too large: ... (max length=255)\"", resp.StatusCode, errs)
	}
}

// Issue 11 item 11: a custom phone field that only Contact has must not be requested from Lead, or SOSL
// fails as a whole with INVALID_FIELD ("No such column 'WhatsApp__c' on entity 'Lead'") and every SMS of
// the batch with it. Source: ../shared/reference/salesforce.md ("Fields exist per object").
func TestPhoneFieldsPerObject(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{Fields: map[string][]salesforcetest.Field{
		"Contact": {{Name: "WhatsApp__c", Type: "phone", Length: 40}},
		"Lead":    {{Name: "Lead_Phone__c", Type: "phone", Length: 40}},
	}}, nil)
	ctx := context.Background()
	cid := e.srv.SeedContact(salesforcetest.Person{LastName: "Whats", Fields: map[string]any{"WhatsApp__c": "+33 6 12 34 56 78"}})
	lid := e.srv.SeedLead(salesforcetest.Person{LastName: "Lead", Company: "Acme", Fields: map[string]any{"Lead_Phone__c": "06 98 76 54 32"}})
	fields := []string{"Phone", "MobilePhone", "WhatsApp__c", "Lead_Phone__c", "Nowhere__c"}
	queries := []crm.ContactQuery{
		{Phone: fr("0612345678"), PhoneFields: fields},
		{Phone: fr("+33698765432"), PhoneFields: fields},
	}
	for range 2 {
		got, err := e.c.FindContacts(ctx, queries)
		if err != nil {
			t.Fatalf("FindContacts: %v", err)
		}
		if g := ids(got[0]); len(g) != 1 || g[0] != "contact:"+cid {
			t.Errorf("WhatsApp__c query = %v, want [contact:%s]", g, cid)
		}
		if g := ids(got[1]); len(g) != 1 || g[0] != "lead:"+lid {
			t.Errorf("Lead_Phone__c query = %v, want [lead:%s]", g, lid)
		}
	}
	if n := e.srv.Calls(salesforcetest.EndpointDescribe); n != 2 {
		t.Errorf("describe calls = %d, want 2 (Contact and Lead, once)", n)
	}
	e.c.Reload() // a mapping reload: an admin may have added fields
	if _, err := e.c.FindContacts(ctx, queries); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Calls(salesforcetest.EndpointDescribe); n != 4 {
		t.Errorf("describe calls after Reload = %d, want 4", n)
	}

	// A field deleted (or hidden) after the describe was read: the refused search reads it again, once,
	// instead of failing every SMS until the next reload.
	e.srv.RemoveField("Contact", "WhatsApp__c")
	got, err := e.c.FindContacts(ctx, queries)
	if err != nil {
		t.Fatalf("FindContacts after WhatsApp__c was deleted: %v", err)
	}
	if g := ids(got[0]); len(g) != 0 {
		t.Errorf("WhatsApp__c query after deletion = %v, want none", g)
	}
	if n := e.srv.Calls(salesforcetest.EndpointDescribe); n != 6 {
		t.Errorf("describe calls after a stale describe = %d, want 6", n)
	}
	e.srv.AddField("Contact", salesforcetest.Field{Name: "WhatsApp__c", Type: "phone", Length: 40})

	// The fake refuses what Salesforce refuses: the custom Contact field requested from Lead.
	tok := sessionToken(t, e)
	q := url.Values{"q": {"FIND {33612345678} IN PHONE FIELDS RETURNING Contact(Id,WhatsApp__c), Lead(Id,WhatsApp__c)"}}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+"/services/data/v66.0/search?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var errs []struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if err := decodeJSON(resp, &errs); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || len(errs) != 1 || errs[0].ErrorCode != "INVALID_FIELD" ||
		!strings.Contains(errs[0].Message, "No such column 'WhatsApp__c' on entity 'Lead'") {
		t.Errorf("Lead(WhatsApp__c): got %d %+v, want 400 INVALID_FIELD No such column 'WhatsApp__c' on entity 'Lead'", resp.StatusCode, errs)
	}
}

// Issue 11 item 14 (Salesforce half): check --online proves every field the mapping names exists on its
// object, from the describe, with findings the CLI prints as file:line: field: problem.
func TestCheckFields(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{TaskIDField: "Onoff_Message_Id__c", ReadOnlyObjects: []string{"Contact"},
		Fields: map[string][]salesforcetest.Field{
			"Contact": {{Name: "WhatsApp__c", Type: "phone", Length: 40}},
			"Lead":    {{Name: "Notes__c", Type: "string", Length: 255}, {Name: "Score__c", Type: "double", ReadOnly: true}},
			"Task":    {{Name: "Plain__c", Type: "string", Length: 64}, {Name: "Loose_Id__c", Type: "string", Length: 64, ExternalID: true}},
		},
		Hidden: map[string][]string{"Task": {"CallObject"}},
	}, nil)
	ref := func(use, obj, name string, line int, key string) salesforce.FieldRef {
		return salesforce.FieldRef{Use: use, Object: obj, Name: name, File: "m.yaml", Line: line, Key: key}
	}
	refs := []salesforce.FieldRef{
		ref(salesforce.UsePhone, "", "MobilePhone", 3, "match.phone_fields"),
		ref(salesforce.UsePhone, "", "WhatsApp__c", 3, "match.phone_fields"),
		ref(salesforce.UsePhone, "", "Nowhere__c", 3, "match.phone_fields"),
		ref(salesforce.UsePhone, "", "Notes__c", 3, "match.phone_fields"),
		ref(salesforce.UseCreate, "Lead", "", 5, "create.kind"),
		ref(salesforce.UseCreate, "Lead", "LeadSource", 9, "create.fields.LeadSource"),
		ref(salesforce.UseCreate, "Lead", "Score__c", 10, "create.fields.Score__c"),
		ref(salesforce.UseCreate, "Lead", "WhatsApp__c", 11, "create.fields.WhatsApp__c"),
		ref(salesforce.UseCreate, "Contact", "", 5, "create.kind"),
		ref(salesforce.UseActivity, "", "", 14, "activity"),
		ref(salesforce.UseActivity, "", "Subject", 15, "activity.fields.Subject"),
		ref(salesforce.UseActivity, "", "CallObject", 16, "activity.fields.CallObject"),
		ref(salesforce.UseActivity, "", "Onoff_Direction__c", 17, "activity.fields.Onoff_Direction__c"),
		{Use: salesforce.UseID, Name: "Onoff_Message_Id__c", ClaimsUnique: true, File: "m.yaml", Line: 20, Key: "activity.id_field"},
		{Use: salesforce.UseID, Name: "Plain__c", File: "m.yaml", Line: 21, Key: "activity.id_field"},
		{Use: salesforce.UseID, Name: "Loose_Id__c", ClaimsUnique: true, File: "m.yaml", Line: 22, Key: "activity.id_field"},
	}
	got, err := e.c.CheckFields(context.Background(), refs)
	if err != nil {
		t.Fatalf("CheckFields: %v", err)
	}
	var lines []string
	for _, f := range got {
		lines = append(lines, f.String())
	}
	want := []string{
		"m.yaml:3: match.phone_fields: no field Nowhere__c on Contact or Lead (or field-level security hides it from the integration user)",
		"m.yaml:3: match.phone_fields: Lead.Notes__c is a string field, not phone: SOSL IN PHONE FIELDS does not search it",
		"m.yaml:10: create.fields.Score__c: Lead.Score__c is not createable by the integration user (read-only, or field-level security gives read access only)",
		"m.yaml:11: create.fields.WhatsApp__c: no field WhatsApp__c on Lead (or field-level security hides it from the integration user)",
		`m.yaml:5: create.kind: the integration user cannot create Contact records (object permission "Create")`,
		"m.yaml:16: activity.fields.CallObject: no field CallObject on Task (or field-level security hides it from the integration user)",
		"m.yaml:17: activity.fields.Onoff_Direction__c: no field Onoff_Direction__c on Task (or field-level security hides it from the integration user)",
		"m.yaml:21: activity.id_field: Task.Plain__c is not an External ID field: the upsert by it is refused",
		"m.yaml:22: activity.id_field: Task.Loose_Id__c is not unique in Salesforce, but id_field_unique says it is: make the field Unique or set id_field_unique: false",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if n := e.srv.Calls(salesforcetest.EndpointDescribe); n != 3 {
		t.Errorf("describe calls = %d, want 3 (Contact, Lead, Task)", n)
	}
}

// rawCall sends one authenticated request to the fake and returns the status and raw body.
func rawCall(tb testing.TB, e *env, method, path, body string) (int, []byte) {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL()+"/services/data/v66.0"+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+sessionToken(tb, e))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, b
}

// Issue 11 item 15 (Salesforce half): the fake refuses unknown fields per object, wrong types and
// over-long strings as Salesforce does, in its shapes: top-level [{"message","errorCode"}] for what fails
// deserialization (INVALID_FIELD, JSON_PARSER_ERROR: restforce/restforce#619, regican/Salesforce#2), a
// per-record {"statusCode","message","fields"} in collection results for DML errors (STRING_TOO_LONG:
// "Subject: data value too large: ... (max length=255)", SalesforceLabs/Milestones-PM#32).
func TestFakeRefusesLikeSalesforce(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{Fields: map[string][]salesforcetest.Field{
		"Contact": {{Name: "WhatsApp__c", Type: "phone", Length: 40}},
	}}, nil)
	long := strings.Repeat("a", 254) + "\U0001F600"
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string // a substring of the body
	}{
		{"unknown field on Lead", "POST", "/sobjects/Lead", `{"LastName":"L","Company":"C","WhatsApp__c":"+33612345678"}`,
			400, `[{"message":"No such column 'WhatsApp__c' on sobject of type Lead","errorCode":"INVALID_FIELD"}]`},
		{"custom field on its object", "POST", "/sobjects/Contact", `{"LastName":"L","WhatsApp__c":"+33612345678"}`, 201, `"success":true`},
		{"SOQL unknown field", "GET", "/query?q=" + url.QueryEscape("SELECT Id, WhatsApp__c FROM Lead"), "",
			400, `No such column 'WhatsApp__c' on entity 'Lead'.`},
		{"collection unknown field fails the request", "POST", "/composite/sobjects",
			`{"allOrNone":false,"records":[{"attributes":{"type":"Task"},"Subject":"ok"},{"attributes":{"type":"Task"},"WhatsApp__c":"x"}]}`,
			400, `[{"message":"No such column 'WhatsApp__c' on sobject of type Task","errorCode":"INVALID_FIELD"}]`},
		{"collection wrong type fails the request", "POST", "/composite/sobjects",
			`{"allOrNone":false,"records":[{"attributes":{"type":"Task"},"Subject":"ok","CallDurationInSeconds":"abc"}]}`,
			400, `[{"message":"Cannot deserialize instance of int from VALUE_STRING value abc or request may be missing a required field at [line:1, column:100]","errorCode":"JSON_PARSER_ERROR"}]`},
		{"bad date", "POST", "/sobjects/Task", `{"Subject":"s","ActivityDate":"2026-05-20 10:00:00"}`,
			400, `Cannot deserialize instance of date from VALUE_STRING value 2026-05-20 10:00:00`},
		{"numeric string into a number field", "POST", "/sobjects/Task", `{"Subject":"s","CallDurationInSeconds":"42","ActivityDate":"2026-05-20"}`, 201, `"success":true`},
		{"collection over-long string fails one record", "POST", "/composite/sobjects",
			`{"allOrNone":false,"records":[{"attributes":{"type":"Task"},"Subject":"ok"},{"attributes":{"type":"Task"},"Subject":"` + long + `"}]}`,
			200, `{"success":false,"errors":[{"statusCode":"STRING_TOO_LONG","message":"Subject: data value too large: aaaa`},
		{"read-only field", "POST", "/sobjects/Lead", `{"LastName":"L","Company":"C","IsConverted":true}`,
			400, `"errorCode":"INVALID_FIELD_FOR_INSERT_UPDATE"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := rawCall(t, e, tt.method, tt.path, tt.body)
			if status != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d %.400s\nwant %d containing %s", status, body, tt.status, tt.want)
			}
		})
	}

	// describe answers in Salesforce's shape: fields[] with name, type, length, externalId, unique,
	// updateable, createable, nillable.
	status, body := rawCall(t, e, "GET", "/sobjects/Contact/describe", "")
	var d struct {
		Name   string           `json:"name"`
		Fields []map[string]any `json:"fields"`
	}
	if err := json.Unmarshal(body, &d); status != 200 || err != nil || d.Name != "Contact" {
		t.Fatalf("describe: %d %v %.200s", status, err, body)
	}
	var wa map[string]any
	for _, f := range d.Fields {
		if f["name"] == "WhatsApp__c" {
			wa = f
		}
	}
	for k, v := range map[string]any{"type": "phone", "length": 40.0, "externalId": false, "unique": false,
		"updateable": true, "createable": true, "nillable": true, "custom": true} {
		if wa[k] != v {
			t.Errorf("describe WhatsApp__c %s = %v, want %v", k, wa[k], v)
		}
	}
	if status, _ := rawCall(t, e, "GET", "/sobjects/Nope__c/describe", ""); status != 404 {
		t.Errorf("describe of an unknown object: %d, want 404", status)
	}
}

// Issue 11 item 15, through the adapter: a mapping field Task does not have fails the whole collection
// with INVALID_FIELD, permanently, as in Salesforce (the old fake accepted any __c field on any object).
func TestUnknownTaskFieldIsPermanent(t *testing.T) {
	e := newEnv(t, salesforcetest.Options{}, nil)
	lid := e.srv.SeedLead(salesforcetest.Person{LastName: "Lead", Company: "Acme"})
	acts := []crm.Activity{
		{SourceID: "1", ContactID: lid, ContactKind: crm.KindLead, Timestamp: t0, Fields: map[string]string{"Subject": "ok"}},
		{SourceID: "2", ContactID: lid, ContactKind: crm.KindLead, Timestamp: t0, Fields: map[string]string{"Subject": "s", "Onoff_Direction__c": "in"}},
	}
	_, err := e.c.LogActivities(context.Background(), acts)
	if ce := asCRM(t, err); ce.Action != crm.Permanent || ce.Code != "INVALID_FIELD" ||
		!strings.Contains(ce.Message, "No such column 'Onoff_Direction__c' on sobject of type Task") {
		t.Errorf("got %v, want the whole batch permanent INVALID_FIELD naming Onoff_Direction__c", err)
	}
	if n := len(e.srv.Tasks()); n != 0 {
		t.Errorf("%d Tasks saved, want 0 (the request fails before any record is saved)", n)
	}
}
