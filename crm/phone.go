package crm

import (
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Phone is a phone number as received and, when it parses, normalised.
type Phone struct {
	Raw      string // as Onoff sent it
	E164     string // "+33612345678"; "" when the number does not parse as a phone number
	National string // national significant number, digits only, no trunk prefix: "612345678"
	Trunk    string // national number as dialled inside the country, digits only: "0612345678"
	Region   string // ISO 3166 region of the number, "FR"
	// Home is the region the number was read in (the account's country), "" when it did not parse: a CRM
	// number written with that country's international prefix ("011 82 ..." in the US) is read there too.
	Home string `json:"-"`
}

// Valid reports whether the number parsed as a (possible) phone number. Short codes and alphanumeric
// senders are not: matching falls back to email for them.
func (p Phone) Valid() bool { return p.E164 != "" }

// Digits returns the digit-only search variants of the number, most specific first and without repeats:
// E.164 without "+", the national number with its trunk prefix, the national significant number. For a
// number that did not parse it returns its digits alone, if it has any.
func (p Phone) Digits() []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if p.Valid() {
		add(strings.TrimPrefix(p.E164, "+"))
		add(p.Trunk)
		add(p.National)
		return out
	}
	add(asciiDigits(p.Raw))
	return out
}

// ParsePhone parses raw with region as the country for national-format numbers (an ISO code such as "FR").
// A number written with a leading "+" or "00" needs no region. It never fails: an unparseable number comes
// back with only Raw set. Trunk is "" where the country has no national form that reads back as the same
// number (non-geographic +800 numbers, some Argentine mobiles).
func ParsePhone(raw, region string) Phone {
	p := Phone{Raw: raw}
	num := parse(raw, region)
	if num == nil {
		return p
	}
	p.E164 = phonenumbers.Format(num, phonenumbers.E164)
	if again := parse(p.E164, ""); again == nil || phonenumbers.Format(again, phonenumbers.E164) != p.E164 {
		return Phone{Raw: raw} // in no assigned range: its E.164 form would not read back as itself
	}
	p.National = phonenumbers.GetNationalSignificantNumber(num)
	p.Region = phonenumbers.GetRegionCodeForNumber(num)
	if p.Region == "" || p.Region == "ZZ" { // a number in no assigned range still has a country
		p.Region = phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
	}
	p.Home = strings.ToUpper(region)
	p.Trunk = phonenumbers.NormalizeDigitsOnly(phonenumbers.Format(num, phonenumbers.NATIONAL))
	if t := parse(p.Trunk, p.Region); t == nil || phonenumbers.Format(t, phonenumbers.E164) != p.E164 {
		p.Trunk = ""
	}
	return p
}

// parse reads raw as a possible phone number of at least 6 national digits, or returns nil: empty strings,
// alphanumeric senders and short codes are not people.
func parse(raw, region string) *phonenumbers.PhoneNumber {
	s := strings.TrimSpace(raw)
	if s == "" || !hasDigit(s) || hasLetter(s) {
		return nil
	}
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	num, err := phonenumbers.Parse(s, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsPossibleNumber(num) || len(phonenumbers.GetNationalSignificantNumber(num)) < 6 {
		return nil
	}
	return num
}

// RegionFor picks the region to parse an external number with: the country of the Onoff user's own number
// when that number is international (starts with + or 00), else fallback.
func RegionFor(userNumber, fallback string) string {
	return regionFor(userNumber, fallback, ParsePhone)
}

func regionFor(userNumber, fallback string, parse func(raw, region string) Phone) string {
	s := strings.TrimSpace(userNumber)
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		if p := parse(s, ""); p.Region != "" && p.Region != "ZZ" {
			return p.Region
		}
	}
	return fallback
}

// PhoneCache memoises ParsePhone: parsing is the costliest step of handling an SMS (several libphonenumber
// parses, each running regular expressions), and the same numbers recur (an Onoff user's own number on every
// SMS they send, a customer's on every reply). Safe for concurrent use; it forgets everything when full.
type PhoneCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]Phone
}

// NewPhoneCache remembers up to max parses.
func NewPhoneCache(max int) *PhoneCache { return &PhoneCache{max: max, seen: map[string]Phone{}} }

// Parse is ParsePhone, remembered.
func (c *PhoneCache) Parse(raw, region string) Phone {
	k := region + "\x00" + raw
	c.mu.Lock()
	p, ok := c.seen[k]
	c.mu.Unlock()
	if ok {
		return p
	}
	p = ParsePhone(raw, region)
	if len(raw) > 32 { // not a phone number anyone dials: not worth remembering
		return p
	}
	c.mu.Lock()
	if len(c.seen) >= c.max {
		clear(c.seen)
	}
	c.seen[k] = p
	c.mu.Unlock()
	return p
}

// Clear forgets every number (an erasure request must not leave one behind).
func (c *PhoneCache) Clear() {
	c.mu.Lock()
	clear(c.seen)
	c.mu.Unlock()
}

// RegionFor is RegionFor with the cache's parses.
func (c *PhoneCache) RegionFor(userNumber, fallback string) string {
	return regionFor(userNumber, fallback, c.Parse)
}

// SamePhone reports whether a number stored in a CRM (in any format) is the same number as p. A stored
// number is read in p's region (a national-format number of p's country), then in p's home region (the
// account's country, whose international prefix a number abroad may be written with: "011 82 ..." in the US).
func SamePhone(stored string, p Phone) bool {
	if !p.Valid() || strings.TrimSpace(stored) == "" {
		return false
	}
	if q := ParsePhone(stored, p.Region); q.Valid() && q.E164 == p.E164 {
		return true
	}
	if p.Home == "" || p.Home == p.Region {
		return false
	}
	q := ParsePhone(stored, p.Home)
	return q.Valid() && q.E164 == p.E164
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func hasLetter(s string) bool {
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			// "ext" style suffixes are rare in SMS senders; letters mean an alphanumeric sender
			return true
		}
	}
	return false
}

// Format returns p in its country's national format for people ("06 12 34 56 78"), or Raw when it did not parse.
func (p Phone) Format() string {
	if !p.Valid() {
		return p.Raw
	}
	num, err := phonenumbers.Parse(p.E164, "")
	if err != nil {
		return p.Raw
	}
	return phonenumbers.Format(num, phonenumbers.NATIONAL)
}

// asciiDigits keeps the ASCII digits of s (NormalizeDigitsOnly keeps other scripts' digits too, which no CRM
// search matches).
func asciiDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
