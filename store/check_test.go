package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storeFile makes a closed data file holding a few hundred events, and returns its path and page size.
func storeFile(tb testing.TB) (string, int64) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "db")
	s, err := Open(path, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 300 {
		if _, _, err := s.Enqueue(sms(fmt.Sprint("id-", i)), []string{"d"}); err != nil {
			tb.Fatal(err)
		}
	}
	pageSize := int64(s.db.Info().PageSize)
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, pageSize
}

func TestOpenRefusesDamagedFile(t *testing.T) {
	zero := func(tb testing.TB, path string, off, n int64) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(make([]byte, n), off); err != nil {
			tb.Fatal(err)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.UintN(256))
		}
		return b
	}
	cases := []struct {
		name   string
		damage func(tb testing.TB, path string, pageSize int64)
	}{
		{"empty", func(tb testing.TB, path string, _ int64) { os.WriteFile(path, nil, 0o600) }},
		{"truncated to half", func(tb testing.TB, path string, _ int64) {
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()/2)
		}},
		{"truncated to one page", func(tb testing.TB, path string, pageSize int64) { os.Truncate(path, pageSize) }},
		{"shorter than a meta page", func(tb testing.TB, path string, _ int64) { os.Truncate(path, 40) }},
		{"garbage", func(tb testing.TB, path string, _ int64) { os.WriteFile(path, garbage(64<<10), 0o600) }},
		{"text", func(tb testing.TB, path string, _ int64) {
			os.WriteFile(path, []byte("store:\n  path: /data/onoffsync.db\n"), 0o600)
		}},
		{"both meta pages zeroed", func(tb testing.TB, path string, pageSize int64) { zero(tb, path, 0, 2*pageSize) }},
		{"data pages overwritten", func(tb testing.TB, path string, pageSize int64) {
			fi, _ := os.Stat(path)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			defer f.Close()
			f.WriteAt(garbage(int(fi.Size()-2*pageSize)), 2*pageSize)
		}},
	}
	orig, pageSize := storeFile(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			copyFile(t, orig, path)
			tc.damage(t, path, pageSize)
			before, _ := os.ReadFile(path)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a damaged file")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "data file truncated or corrupt: restore the copy") || strings.Contains(msg, "\n") ||
				!strings.Contains(msg, path) {
				t.Errorf("error %q: want one line starting %q and naming %s", msg, "data file truncated or corrupt: restore the copy", path)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("Open changed the damaged file")
			}
			if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("read-only Open = %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestOpenAcceptsOneBadMetaPage: bbolt keeps two meta pages so that a torn write of one leaves the other;
// the check must not refuse such a file.
func TestOpenAcceptsOneBadMetaPage(t *testing.T) {
	orig, pageSize := storeFile(t)
	for meta := range 2 {
		t.Run(fmt.Sprint("meta ", meta), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			copyFile(t, orig, path)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(make([]byte, 64), int64(meta)*pageSize+16)
			f.Close()
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("Open with meta page %d damaged: %v", meta, err)
			}
			defer s.Close()
			if _, err := s.EventBySource("sms", "id-0"); err != nil {
				t.Errorf("first event after reopening: %v", err)
			}
		})
	}
}

func TestOpenCreatesOnlyWhereNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a new path: %v", err)
	}
	s.Close()
	if s, err = Open(path, Options{}); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}
