package crm

import (
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// Longer run:
//
//	go test ./crm -run '^$' -fuzz '^FuzzParsePhone$' -fuzztime 10m

// fuzzRegions are the regions FuzzParsePhone parses in; "" is "no default region".
var fuzzRegions = []string{"FR", "US", "GB", "DE", ""}

func digitsOnly(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// FuzzParsePhone checks ParsePhone never panics and that a valid number is consistent: E.164 is "+" and
// digits and parses back to itself, SamePhone recognises it in E.164 and in its national (trunk) form, and
// every search variant from Digits is ASCII digits.
func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{
		"06 12 34 56 78", "+33612345678", "0033612345678", "(415) 555-2671", "+1 415 555 2671", "+447700900123",
		"07700 900123", "+49 30 901820", "030 901820", "36180", "AMAZON", "", " ", "+", "00", "+0", "0",
		"+39 06 1234 5678", "+7 912 345 67 89",
		"+52 1 55 1234 5678", "+33 6 12 34 56 78 ext 12", "06.12.34.56.78;ext=1", "tel:+33612345678",
		"\uff10\uff16\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "٠٦١٢٣٤٥٦٧٨", "+33\xff612345678",
		strings.Repeat("9", 300), "+" + strings.Repeat("1", 40),
	} {
		for i := range fuzzRegions {
			f.Add(s, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, raw string, r uint8) {
		region := fuzzRegions[int(r)%len(fuzzRegions)]
		p := ParsePhone(raw, region)
		if p.Raw != raw {
			t.Fatalf("ParsePhone(%q, %q).Raw = %q", raw, region, p.Raw)
		}
		for _, d := range p.Digits() {
			if !digitsOnly(d) {
				t.Errorf("ParsePhone(%q, %q).Digits() has %q, want ASCII digits only (all: %q)", raw, region, d, p.Digits())
			}
		}
		if !p.Valid() {
			if p != (Phone{Raw: raw}) {
				t.Errorf("ParsePhone(%q, %q) = %+v: invalid but with normalised forms", raw, region, p)
			}
			if SamePhone(raw, p) {
				t.Errorf("SamePhone(%q, invalid %+v) = true", raw, p)
			}
			return
		}
		if !strings.HasPrefix(p.E164, "+") || !digitsOnly(p.E164[1:]) {
			t.Fatalf("ParsePhone(%q, %q).E164 = %q, want + and digits", raw, region, p.E164)
		}
		if !digitsOnly(p.National) || (p.Trunk != "" && !digitsOnly(p.Trunk)) || p.Region == "" {
			t.Errorf("ParsePhone(%q, %q) = %+v: want digit-only National and Trunk (or none), and a Region", raw, region, p)
		}
		if q := ParsePhone(p.E164, ""); q.E164 != p.E164 {
			t.Errorf("ParsePhone(%q, %q).E164 = %q, but ParsePhone(%q, \"\").E164 = %q", raw, region, p.E164, p.E164, q.E164)
		}
		if !SamePhone(p.E164, p) {
			t.Errorf("SamePhone(%q, ParsePhone(%q, %q)) = false: E.164 not recognised", p.E164, raw, region)
		}
		if num, err := phonenumbers.Parse(p.E164, ""); err != nil || !phonenumbers.IsValidNumber(num) {
			return // in no assigned range: its national form means nothing
		}
		if p.Trunk != "" && !SamePhone(p.Trunk, p) { // no Trunk is better than one that reads as another number
			t.Errorf("SamePhone(%q, ParsePhone(%q, %q) = %+v) = false: national form not recognised in %s",
				p.Trunk, raw, region, p, p.Region)
		}
		if !SamePhone(raw, p) {
			t.Errorf("SamePhone(%q, ParsePhone(%q, %q)) = false: the raw number not recognised in %s", raw, raw, region, p.Region)
		}
	})
}
