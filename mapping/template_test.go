package mapping

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/onoffsync/onoffsync/crm"
)

func TestRichtext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`<a href="x">Tom & Jerry</a>`, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&lt;/a&gt;"},
		{"one\ntwo\r\nthree\rfour", "one<br>two<br>three<br>four"},
		{"&amp;", "&amp;amp;"},
		{"it's", "it's"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := richtext(tt.in); got != tt.want {
			t.Errorf("richtext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		n          int
		in, want   string
		wantLength int
	}{
		{5, "hello", "hello", 5},
		{4, "hello", "hel…", 4},
		{3, "héllo wörld", "hé…", 3},
		{2, "😀😀😀", "😀…", 2},
		{1, "abc", "…", 1},
		{0, "abc", "", 0},
		{-1, "abc", "", 0},
		{10, "", "", 0},
	}
	for _, tt := range tests {
		got := truncate(tt.n, tt.in)
		if got != tt.want || !utf8.ValidString(got) || utf8.RuneCountInString(got) != tt.wantLength {
			t.Errorf("truncate(%d, %q) = %q, want %q (%d runes, valid UTF-8)", tt.n, tt.in, got, tt.want, tt.wantLength)
		}
	}
}

func TestFormatTime(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	nyc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 5, 20, 22, 30, 0, 0, time.UTC)
	tests := []struct {
		loc    *time.Location
		layout string
		want   string
	}{
		{nil, "2006-01-02 15:04", "2024-05-20 22:30"},
		{paris, "2006-01-02 15:04 MST", "2024-05-21 00:30 CEST"},
		{paris, "DateOnly", "2024-05-21"},
		{nyc, "RFC3339", "2024-05-20T18:30:00-04:00"},
	}
	for _, tt := range tests {
		doc := "activity:\n  fields:\n    text: '{{ formatTime \"" + tt.layout + "\" .Event.Date }}|{{ .Event.LocalDate.Day }}'\n"
		m, err := Parse("m.yaml", []byte(doc), Options{CRM: "log", Location: tt.loc})
		if err != nil {
			t.Fatal(err)
		}
		a, err := m.Apply(crm.SMS{Date: date}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		text, day, _ := strings.Cut(a.Fields["text"], "|")
		if text != tt.want {
			t.Errorf("formatTime(%q) in %v = %q, want %q", tt.layout, tt.loc, text, tt.want)
		}
		if want := tt.want[8:10]; day != strings.TrimPrefix(want, "0") {
			t.Errorf("LocalDate.Day in %v = %s, want %s", tt.loc, day, want)
		}
	}
}

func TestPhoneFuncs(t *testing.T) {
	fr := crm.ParsePhone("06 12 34 56 78", "FR")
	tests := []struct {
		name       string
		in         any
		e164, natl string
	}{
		{"national input", phone{fr}, "+33612345678", "06 12 34 56 78"},
		{"crm.Phone", fr, "+33612345678", "06 12 34 56 78"},
		{"uk", phone{crm.ParsePhone("+447700900123", "")}, "+447700900123", "07700 900123"},
		{"string E.164", "+33612345678", "+33612345678", "06 12 34 56 78"},
		{"string national: no region", "0612345678", "0612345678", "0612345678"},
		{"alphanumeric", phone{crm.ParsePhone("AMAZON", "FR")}, "AMAZON", "AMAZON"},
		{"empty", phone{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := e164(tt.in)
			if err != nil || e != tt.e164 {
				t.Errorf("e164 = %q, %v; want %q", e, err, tt.e164)
			}
			n, err := national(tt.in)
			if err != nil || n != tt.natl {
				t.Errorf("national = %q, %v; want %q", n, err, tt.natl)
			}
		})
	}
	if _, err := e164(42); err == nil {
		t.Error("e164(42) succeeded")
	}
}

func TestDefaultAndNames(t *testing.T) {
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"default empty string", dflt("x", ""), "x"},
		{"default blank string", dflt("x", "  "), "x"},
		{"default set", dflt("x", "y"), "y"},
		{"default nil", dflt("x", nil), "x"},
		{"default zero time", dflt("x", time.Time{}), "x"},
		{"default empty phone", dflt("x", phone{}), "x"},
		{"default raw phone", dflt("x", phone{crm.Phone{Raw: "AMAZON"}}), phone{crm.Phone{Raw: "AMAZON"}}},
		{"firstName", firstName("Jean-Pierre de la Fontaine"), "Jean-Pierre de la"},
		{"lastName", lastName("Jean-Pierre de la Fontaine"), "Fontaine"},
		{"one word is a last name", []string{firstName("Madonna"), lastName("Madonna")}, []string{"", "Madonna"}},
		{"blank name", []string{firstName("  "), lastName("")}, []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !equal(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return strings.Join(as, "\x00") == strings.Join(bs, "\x00") && len(as) == len(bs)
	}
	return a == b
}

func TestTemplatePhonePrints(t *testing.T) {
	doc := "activity:\n  fields:\n    text: '{{ .Event.External }}|{{ .Event.ExternalNumber.National }}|{{ .Event.External.Raw }}|{{ national .Event.UserNumber }}'\n"
	m := mustParse(t, "log", doc)
	ev := crm.SMS{External: crm.ParsePhone("06 12 34 56 78", "FR"), UserNumber: crm.ParsePhone("36179", "FR")}
	a, err := m.Apply(ev, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Fields["text"], "+33612345678|612345678|06 12 34 56 78|36179"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
}
