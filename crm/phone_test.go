package crm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePhone(t *testing.T) {
	tests := []struct {
		name, raw, region string
		want              Phone
	}{
		{"national FR", "06 12 34 56 78", "FR", Phone{Raw: "06 12 34 56 78", E164: "+33612345678", National: "612345678", Trunk: "0612345678", Region: "FR", Home: "FR"}},
		{"e164", "+33612345678", "US", Phone{Raw: "+33612345678", E164: "+33612345678", National: "612345678", Trunk: "0612345678", Region: "FR", Home: "US"}},
		{"00 prefix", "0033612345678", "US", Phone{Raw: "0033612345678", E164: "+33612345678", National: "612345678", Trunk: "0612345678", Region: "FR", Home: "US"}},
		{"US national", "(415) 555-2671", "US", Phone{Raw: "(415) 555-2671", E164: "+14155552671", National: "4155552671", Trunk: "4155552671", Region: "US", Home: "US"}},
		{"short code", "36180", "FR", Phone{Raw: "36180"}},
		{"alphanumeric", "AMAZON", "FR", Phone{Raw: "AMAZON"}},
		{"empty", "", "FR", Phone{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParsePhone(tt.raw, tt.region)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePhone(%q, %q) mismatch (-want +got):\n%s", tt.raw, tt.region, diff)
			}
		})
	}
}

func TestDigitsAndSame(t *testing.T) {
	p := ParsePhone("0612345678", "FR")
	if got, want := p.Digits(), []string{"33612345678", "0612345678", "612345678"}; !cmp.Equal(got, want) {
		t.Errorf("Digits() = %v, want %v", got, want)
	}
	for _, stored := range []string{"+33 6 12 34 56 78", "06.12.34.56.78", "0033612345678"} {
		if !SamePhone(stored, p) {
			t.Errorf("SamePhone(%q) = false, want true", stored)
		}
	}
	if SamePhone("+33612345679", p) {
		t.Error("SamePhone(other number) = true, want false")
	}
}

// TestSamePhoneForeignIDD matches a CRM number written with the account country's international prefix
// ("011" from the US, "00" from France) to the same number abroad: it must be read in the account's country,
// not in the number's own (in Korea, "011 82 ..." is no number at all).
func TestSamePhoneForeignIDD(t *testing.T) {
	tests := []struct{ name, stored, home, sms string }{
		{"US account", "011 82 10 1234 5678", "US", "+82 10 1234 5678"},
		{"US account, national sms", "011 82 10 1234 5678", "US", "011 82 10 1234 5678"},
		{"FR account", "00 82 10 1234 5678", "FR", "+82 10 1234 5678"},
		{"JP account", "010 82 10 1234 5678", "JP", "+82 10 1234 5678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ParsePhone(tt.sms, tt.home)
			if !SamePhone(tt.stored, p) {
				t.Errorf("SamePhone(%q, ParsePhone(%q, %q) = %+v) = false, want true", tt.stored, tt.sms, tt.home, p)
			}
			if SamePhone("011 82 10 1234 5679", p) {
				t.Errorf("SamePhone(another number, %+v) = true", p)
			}
		})
	}
}

func TestRegionFor(t *testing.T) {
	if got := RegionFor("+447700900123", "FR"); got != "GB" {
		t.Errorf("RegionFor(GB number) = %q, want GB", got)
	}
	if got := RegionFor("0612345678", "FR"); got != "FR" {
		t.Errorf("RegionFor(national) = %q, want FR", got)
	}
}

func TestPhoneCache(t *testing.T) {
	c := NewPhoneCache(2)
	for _, raw := range []string{"0612345678", "+447700900123", "0612345678", "36180", "AMAZON"} {
		if got, want := c.Parse(raw, "FR"), ParsePhone(raw, "FR"); got != want {
			t.Errorf("cached Parse(%q) = %+v, want %+v", raw, got, want)
		}
		if len(c.seen) > 2 {
			t.Fatalf("cache holds %d entries, max 2", len(c.seen))
		}
	}
	if got := c.RegionFor("+447700900123", "FR"); got != "GB" {
		t.Errorf("RegionFor = %q, want GB", got)
	}
}
