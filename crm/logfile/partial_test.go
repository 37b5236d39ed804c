package logfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// disk is a file on a disk with room for a fixed number of bytes: a write beyond it stores what fits and
// fails with ENOSPC, as write(2) does on a full disk; failSync makes the next Sync fail (delayed allocation).
type disk struct {
	data     []byte
	room     int
	failSync bool
}

type diskFile struct{ d *disk }

func (f diskFile) Write(p []byte) (int, error) {
	n := min(len(p), max(f.d.room-len(f.d.data), 0))
	f.d.data = append(f.d.data, p[:n]...)
	if n < len(p) {
		return n, syscall.ENOSPC
	}
	return n, nil
}

func (f diskFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f.d.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.d.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f diskFile) Stat() (os.FileInfo, error) { return fileInfo{size: int64(len(f.d.data))}, nil }

func (f diskFile) Truncate(size int64) error {
	f.d.data = f.d.data[:size]
	return nil
}

func (f diskFile) Sync() error {
	if f.d.failSync {
		f.d.failSync = false
		return syscall.EIO
	}
	return nil
}

func (f diskFile) Close() error { return nil }

type fileInfo struct {
	os.FileInfo
	size int64
}

func (i fileInfo) Size() int64       { return i.size }
func (i fileInfo) Mode() os.FileMode { return 0o600 }

func acts(ids ...string) []crm.Activity {
	out := make([]crm.Activity, len(ids))
	for i, id := range ids {
		out[i] = crm.Activity{SourceID: id, Timestamp: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			Fields: map[string]string{"body": strings.Repeat("x", 50)}}
	}
	return out
}

func lineIDs(tb testing.TB, data []byte) []string {
	tb.Helper()
	var ids []string
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]string
		if line[len(line)-1] != '\n' || json.Unmarshal(line, &rec) != nil {
			tb.Fatalf("line %q is not a whole JSON record", line)
		}
		ids = append(ids, rec["id"])
	}
	return ids
}

// TestFailedWriteLeavesNoPartialLine fills the disk in the middle of a batch, then fails a sync: each failed
// batch is retryable and cut back off the file, so the retries leave every record once, on whole lines.
func TestFailedWriteLeavesNoPartialLine(t *testing.T) {
	d := &disk{room: 250}
	c := &Client{output: "sms.jsonl", open: func(string) (file, error) { return diskFile{d}, nil }}
	if err := c.reopen(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.LogActivities(ctx, acts("a")); err != nil {
		t.Fatal(err)
	}
	for _, fail := range []string{"full disk", "failed sync"} {
		d.failSync = fail == "failed sync"
		_, err := c.LogActivities(ctx, acts("b", "c"))
		if e := crm.Classify(err); e == nil || e.Action != crm.Retry {
			t.Fatalf("%s: LogActivities: %v, want a retryable error", fail, err)
		}
		if got := lineIDs(t, d.data); len(got) != 1 {
			t.Fatalf("%s: file holds %q after the failed batch, want only a", fail, got)
		}
		if fail == "full disk" && !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s: error %v does not wrap ENOSPC", fail, err)
		}
		d.room = 1 << 20 // there is room again
	}
	if _, err := c.LogActivities(ctx, acts("b", "c")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lineIDs(t, d.data), ","), "a,b,c"; got != want {
		t.Errorf("logged %s, want %s", got, want)
	}
}

// TestOpenDropsPartialLine opens a file whose last line a crash cut short: the partial line is cut off
// before anything is appended to it.
func TestOpenDropsPartialLine(t *testing.T) {
	d := &disk{room: 1 << 20, data: []byte("{\"id\":\"a\"}\n{\"id\":\"b\",\"bo")}
	c := &Client{output: "sms.jsonl", open: func(string) (file, error) { return diskFile{d}, nil }}
	if _, err := c.LogActivities(context.Background(), acts("b")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(lineIDs(t, d.data), ","), "a,b"; got != want {
		t.Errorf("logged %s, want %s", got, want)
	}
}
