package admin

import (
	"testing"

	"github.com/onoffsync/onoffsync/connector"
)

func TestAdminForgetByNumberAndEmail(t *testing.T) {
	r := newEnv(t)
	mk := func(id, ext, email string) string {
		return `{"id":"` + id + `","smsDirection":"RECEIVED","date":"2024-05-20T14:30:00Z","onoffUserNumber":"+33698765432","externalNumber":"` + ext + `","externalEmail":"` + email + `"}`
	}
	r.sms(t, mk("a", "06 12 34 56 78", ""))
	r.sms(t, mk("b", "+33612345678", ""))
	r.sms(t, mk("c", "0699999999", "Person@Example.com"))
	r.sms(t, `{"id":"q","smsDirection":"???","externalNumber":"0612345678"}`) // quarantined, same person
	r.sms(t, mk("other", "0611111111", "other@example.com"))
	a := r.admin
	if n, err := a.Forget("+33 6 12 34 56 78", ""); err != nil || n != 3 {
		t.Errorf("Forget(number) = %d, %v; want 3 (two SMS in two formats and the quarantined one)", n, err)
	}
	if n, err := a.Forget("", "person@example.com"); err != nil || n != 1 {
		t.Errorf("Forget(email) = %d, %v; want 1", n, err)
	}
	if _, err := r.store.EventBySource("sms", "other"); err != nil {
		t.Errorf("someone else's event was erased: %v", err)
	}
	if _, q, _ := r.store.Stats(); q != 0 {
		t.Errorf("quarantine holds %d events after forget, want 0", q)
	}
	if _, err := a.Forget("", ""); err == nil || connector.HTTPStatus(err) != 400 {
		t.Errorf("Forget with no person = %v, want a 400 error", err)
	}
	// Redeliveries of erased SMS are still recognised, so they are not stored again.
	r.sms(t, mk("a", "06 12 34 56 78", ""))
	if _, err := r.store.EventBySource("sms", "a"); err == nil {
		t.Error("a redelivery of an erased SMS was stored again")
	}
}
