package connector

import (
	"fmt"
	"strings"

	"github.com/onoffsync/onoffsync/crm"
	"github.com/onoffsync/onoffsync/store"
)

// Forget erases (for GDPR erasure requests) every stored event (SMS and call) of one person, found by the other
// party's number (compared after normalisation) or email, with its jobs, and drops them from the contact cache
// of every destination. It returns how many events it erased, and fails with ErrBadRequest when it names
// nobody. It does not touch what was already logged in a CRM. sync, when not nil, forgets its parsed phone
// numbers too; region reads national numbers.
//
// It runs in short transactions (store.ForgetPerson), so webhooks keep being stored while it scans, and
// decodes only the events whose bytes may mention the person.
func Forget(st *store.Store, sync *Syncer, region, number, email string) (int, error) {
	number, email = strings.TrimSpace(number), strings.ToLower(strings.TrimSpace(email))
	if number == "" && email == "" {
		return 0, fmt.Errorf("%w: name a number or an email", ErrBadRequest)
	}
	want := crm.ParsePhone(number, region)
	wantKeys := phoneKeys(number)
	var person store.Person
	if email != "" {
		person.Text = append(person.Text, email)
	}
	if number != "" {
		if want.Valid() {
			// Every written form of a valid number (national, international, with a trunk prefix) ends with the
			// last digits of its national significant number; 7 also covers countries whose national forms
			// insert digits before them (Argentina's mobile "15").
			person.Digits = append(person.Digits, want.National[max(0, len(want.National)-7):])
		}
		if wantKeys != "" {
			person.Digits = append(person.Digits, wantKeys)
		}
	}
	n, err := st.ForgetPerson(person, func(e store.Event) bool {
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
		return wantKeys != "" && phoneKeys(ext) == wantKeys
	})
	if err != nil {
		return n, err
	}
	if sync != nil {
		sync.phones.Clear()
	}
	return n, nil
}

// phoneKeys is s as dialled on a phone keypad: its digits, and the digit of each ASCII letter (a vanity number
// "1-800-FLOWERS" is 18003569377), everything else dropped. It compares numbers that do not parse, the way
// store.Person's pre-filter reads stored bytes, so the pre-filter never hides an event this comparison accepts.
func phoneKeys(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			b.WriteByte(keypadOf(r | 0x20))
		}
	}
	return b.String()
}

func keypadOf(r rune) byte {
	for i, keys := range []string{"abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz"} {
		if strings.ContainsRune(keys, r) {
			return byte('2' + i)
		}
	}
	return 0
}
