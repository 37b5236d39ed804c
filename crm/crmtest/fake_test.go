package crmtest

import (
	"testing"

	"github.com/onoffsync/onoffsync/crm"
)

// TestFakeConformance: the Fake the loop's tests drive is an implementation too, and runs the suite.
func TestFakeConformance(t *testing.T) {
	Run(t, func(t *testing.T) *Harness {
		f := NewFake(crm.Limits{})
		return &Harness{
			Client: f,
			SeedContact: func(tb testing.TB, s Seed) string {
				c := crm.Contact{FirstName: s.FirstName, LastName: s.LastName, Email: s.Email, LastModified: s.Modified}
				for _, p := range []string{s.Phone, s.MobilePhone} {
					if p != "" {
						c.Phones = append(c.Phones, p)
					}
				}
				return f.AddContact(c)
			},
			SeedOwner: func(tb testing.TB, email string) string {
				f.AddOwner(email, "owner-"+email)
				return "owner-" + email
			},
			Logged: func(tb testing.TB) []Logged {
				f.mu.Lock()
				defer f.mu.Unlock()
				var out []Logged
				for i, a := range f.acts {
					out = append(out, Logged{ID: f.actIDs[i], ContactID: a.ContactID, Fields: a.Fields})
				}
				return out
			},
			Settle:         func() {},
			NewContactKind: crm.KindContact,
			UpdateField:    "firstname",
		}
	})
}
