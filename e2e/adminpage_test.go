package e2e

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/onoffsync/onoffsync/connector/admin/page/browsertest"
	"github.com/onoffsync/onoffsync/crm/hubspot/hubspottest"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "rewrite docs/screenshots/*.png from TestAdminPage")

const adminToken = "adm-e2e-SECRET-5d1c0a"

// TestAdminPage drives the admin page of a real `onoffsync serve` in headless Chromium, against a fake
// HubSpot: sign in (a wrong token refused), watch the overview count a webhook's delivery by itself, find a
// dead letter whose body holds <script> shown as text, refuse a cross-origin retry, retry it and see it
// reach HubSpot, and requeue then drop a quarantined webhook. It takes the README's screenshots on the way
// (written with -update-screenshots).
func TestAdminPage(t *testing.T) {
	hs := newHubSpot(t, hubspottest.Options{})
	listen := `listen: "` + adminPlaceholder + `"`
	n := newNode(t, strings.Replace(config("", hubspotDest("hubspot", hs, hubIDField)), listen, listen+"\n  token: "+adminToken, 1))
	n.start()
	o := newOnoff(webhookKey, n.receiverURL)
	tab := browsertest.New(t, 4*time.Minute)
	base := n.adminURL()
	password := chromedp.CSS(`input[type=password]`)
	count := func(what string) string {
		return fmt.Sprintf(`document.querySelector('[data-dest="hubspot"] [data-count="%s"]').textContent.trim()`, what)
	}

	// Sign in: a wrong token is refused, the right one opens the overview.
	tab.Do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(password), chromedp.SendKeys(password, "not-the-token\n"),
		chromedp.WaitVisible(chromedp.ID("wrong")))
	tab.Do(chromedp.SendKeys(password, adminToken+"\n"), chromedp.WaitVisible(chromedp.CSS(`[data-dest="hubspot"]`)))
	if got := tab.Eval(count("hour")); got != "0" {
		t.Fatalf("delivered in the last hour before any webhook: got %q, want 0", got)
	}

	// A webhook: the overview counts its delivery without a reload.
	if code, err := o.post(newSMS("page-ok", 0, "hello from the page test")); code != http.StatusOK {
		t.Fatalf("webhook: %d %v", code, err)
	}
	tab.WaitTrue("the overview to count the delivery", count("hour")+` === "1" && `+count("day")+` === "1"`, deliveryTimeout)

	// HubSpot refuses the next write: a dead letter, shown on the overview.
	hs.Fail(hubspottest.CommsBatchCreate, 1, http.StatusBadRequest,
		`{"status":"error","message":"Property values were not valid","category":"VALIDATION_ERROR","correlationId":"e2e"}`)
	evil := "<script>document.title='pwned'</script>"
	if code, err := o.post(newSMS("page-dead", 2, evil)); code != http.StatusOK {
		t.Fatalf("webhook: %d %v", code, err)
	}
	tab.WaitTrue("the overview to show a dead letter", count("dead")+` === "1"`, deliveryTimeout)
	screenshot(t, tab, "overview.png")

	// The dead letter, its body as text.
	tab.Do(chromedp.Click(chromedp.Search(`//nav//a[text()="Dead letters"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-ref]`)))
	ref := tab.Eval(`document.querySelector("tr[data-ref]").dataset.ref`)
	row := `tr[data-ref="` + ref + `"]`
	tab.Do(chromedp.Click(chromedp.CSS(row+` td[data-label="SMS"] summary`)), chromedp.WaitVisible(chromedp.CSS(row+` .body`)))
	if got, want := tab.Text(row+" .body"), marker("page-dead")+" "+evil; got != want {
		t.Errorf("the SMS body: got %q, want the text %q", got, want)
	}
	if got := tab.Eval(`document.title + " / " + document.querySelectorAll("main script").length`); got != "Dead letters · onoffsync / 0" {
		t.Errorf("the SMS body ran as HTML: %s", got)
	}
	if got := tab.Text(row + ` td[data-label="Why it failed"] .code`); got != "VALIDATION_ERROR" {
		t.Errorf("error code: got %q, want VALIDATION_ERROR", got)
	}
	screenshot(t, tab, "dead-letters.png")

	// A form on another origin cannot retry it, although the browser holds a session.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/dead/retry"><input type="hidden" name="ref" value="%s">`+
			`<button id="go">Win a prize</button></form>`, base, ref)
	}))
	defer other.Close()
	tab.Do(chromedp.Navigate(other.URL))
	if code := tab.Load(chromedp.Click(chromedp.ID("go"))); code != http.StatusForbidden {
		t.Errorf("cross-origin retry: got HTTP %d, want 403", code)
	}
	if got := hubspotIDs(hs, hubIDField)["page-dead"]; got != 0 {
		t.Fatalf("the cross-origin retry reached HubSpot (%d)", got)
	}

	// Retry it from the page: it reaches HubSpot.
	tab.Do(chromedp.Navigate(base+"/dead"), chromedp.WaitVisible(chromedp.CSS(row)))
	tab.Load(chromedp.Click(chromedp.Search(`//tr[@data-ref="` + ref + `"]//button[text()="Retry"]`)))
	if got := tab.Text(".flash"); got != "Retried 1 of 1 dead letter." {
		t.Errorf("after Retry: got %q", got)
	}
	waitFor(t, deliveryTimeout, "the retried SMS in HubSpot", func() bool { return hubspotIDs(hs, hubIDField)["page-dead"] == 1 })
	tab.Do(chromedp.Navigate(base + "/"))
	tab.WaitTrue("the overview to count both deliveries", count("hour")+` === "2" && `+count("dead")+` === "0"`, deliveryTimeout)

	// Find it by its number in national format: logged, with HubSpot's record id.
	tab.Do(chromedp.Click(chromedp.Search(`//nav//a[text()="Find an SMS"]`)), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "06 12 00 00 02\n"), chromedp.WaitVisible(chromedp.CSS(`article.found tr[data-dest="hubspot"]`)))
	comms := hs.Communications()
	var recordID string
	for _, c := range comms {
		if c.Properties[hubIDField] == "page-dead" {
			recordID = c.ID
		}
	}
	if got := tab.Text(`article.found tr[data-dest="hubspot"] td[data-label="CRM record"]`); recordID == "" || got != recordID {
		t.Errorf("found record id: got %q, want HubSpot's %q", got, recordID)
	}
	if got := tab.Text(`article.found tr[data-dest="hubspot"] td[data-label="Where it is"]`); !strings.HasPrefix(got, "logged") {
		t.Errorf("found state: got %q, want logged", got)
	}

	// The mapping preview shows what HubSpot would receive.
	tab.Do(chromedp.Click(chromedp.Search(`//nav//a[text()="Mapping preview"]`)), chromedp.WaitVisible(chromedp.ID("p-payload")),
		chromedp.SetValue(chromedp.ID("p-payload"), string(newSMS("preview-1", 4, "what would HubSpot get?"))))
	tab.Load(chromedp.Click(chromedp.Search(`//button[text()="Preview"]`)))
	if got := tab.Text("pre.raw"); !strings.Contains(got, "what would HubSpot get?") || !strings.Contains(got, "hs_communication_body") {
		t.Errorf("preview: got %q", got)
	}
	tab.Do(chromedp.Navigate(base + "/"))

	// A webhook without a date is quarantined; Requeue validates it again (still invalid), Drop removes it.
	bad := `{"id":"page-q","eventName":"SMS","smsDirection":"SENT","externalNumber":"0612000001","body":"no date"}`
	if code, err := o.post([]byte(bad)); code != http.StatusOK {
		t.Fatalf("quarantined webhook: %d %v", code, err)
	}
	tab.Do(chromedp.Click(chromedp.Search(`//nav//a[text()="Quarantine"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-seq]`)))
	seq := tab.Eval(`document.querySelector("tr[data-seq]").dataset.seq`)
	tab.Load(chromedp.Click(chromedp.Search(`//tr[@data-seq="` + seq + `"]//button[text()="Requeue"]`)))
	if got, want := tab.Text(".flash"), "Event "+seq+" is still invalid: date: missing"; got != want {
		t.Errorf("after Requeue: got %q, want %q", got, want)
	}
	tab.Load(chromedp.Click(chromedp.Search(`//button[text()="Drop"]`)))
	if got := tab.Text(".flash"); got != "Event "+seq+" dropped." {
		t.Errorf("after Drop: got %q", got)
	}
	if got := tab.Text("main .empty"); got != "The quarantine is empty." {
		t.Errorf("the quarantine after Drop: got %q", got)
	}

	// Every action is in the server's log with its session, never the token.
	logs := n.logText()
	for _, want := range []string{"admin page: dead letters retry", "admin page: quarantine requeue", "admin page: quarantine drop",
		"admin page: refused a cross-origin request", "admin page: wrong token"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the server log lacks %q", want)
		}
	}
	if strings.Contains(logs, adminToken) {
		t.Errorf("the server log holds the admin token")
	}
}

// screenshot takes a PNG of the whole page; with -update-screenshots it rewrites docs/screenshots/name.
func screenshot(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	png := tab.Screenshot()
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s: not a PNG (%d bytes)", name, len(png))
	}
	if !*updateScreenshots {
		return
	}
	path := filepath.Join("..", "docs", "screenshots", name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
