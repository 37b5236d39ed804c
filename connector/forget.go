package connector

import (
	"fmt"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// Forget erases (for GDPR erasure requests) every stored event (SMS and call) of one person, found by the other party's number (compared
// after normalisation) or email, with its jobs, and drops them from the contact cache. It returns how many
// events it erased, and fails with ErrBadRequest when it names nobody. It does not touch what was already
// logged in a CRM. sync, when not nil, forgets its parsed phone numbers too; region reads national numbers.
func Forget(st *store.Store, sync *Syncer, region, number, email string) (int, error) {
	number, email = strings.TrimSpace(number), strings.ToLower(strings.TrimSpace(email))
	if number == "" && email == "" {
		return 0, fmt.Errorf("%w: name a number or an email", ErrBadRequest)
	}
	want := crm.ParsePhone(number, region)
	wantDigits := digitsOnly(number)
	n, err := st.Forget(func(e store.Event) bool {
		p, _, err := decodePayload(e.Raw)
		if err != nil || p == nil {
			return false
		}
		probs := map[string]string{}
		ext, _ := p.str("externalNumber", probs)
		extEmail, _ := p.str("externalEmail", probs)
		if email != "" && strings.EqualFold(strings.TrimSpace(extEmail), email) {
			return true
		}
		if number == "" || ext == "" {
			return false
		}
		user, _ := p.str("onoffUserNumber", probs)
		got := crm.ParsePhone(ext, crm.RegionFor(user, region))
		if want.Valid() && got.Valid() {
			return got.E164 == want.E164
		}
		return wantDigits != "" && digitsOnly(ext) == wantDigits
	})
	if err != nil {
		return 0, err
	}
	keys := map[string]bool{}
	if want.Valid() {
		keys["phone:"+want.E164] = true
	}
	if email != "" {
		keys["email:"+email] = true
	}
	if err := st.ForgetContacts(func(k string) bool { return keys[k] }); err != nil {
		return n, err
	}
	if sync != nil {
		sync.phones.Clear()
	}
	return n, nil
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
