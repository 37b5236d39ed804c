// Package logfile is the "log" destination: an adapter that writes each activity as one JSON line to a file
// or stdout, for trying a mapping out or feeding another tool. It imports crm only, never connector.
package logfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/onoffsync/onoffsync/crm"
)

// file is what the client needs of its output file; tests substitute one that fails like a full disk.
type file interface {
	io.Writer
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Client is the log destination's crm.Client: each activity becomes one JSON line (the mapping's fields,
// which by default are the normalised event) in a file or on stdout. It knows no contacts: every search finds
// none and creating one fails Permanent. It is safe for concurrent use.
//
// A batch is written whole with one write and synced before it counts as logged. A failed write or sync (a
// full disk) is cut back off the file, so no partial line is left to merge with the next record and the retry
// writes no duplicate, and the file is opened again for the next batch, so the destination recovers once
// there is room (or once the path leads somewhere writable).
type Client struct {
	mu     sync.Mutex
	output string    // the file's path; "" for stdout
	stdout io.Writer // when output is ""
	f      file      // the open output; nil before the first batch after a failure
	open   func(name string) (file, error)
	buf    []byte
}

// New opens output for appending (creating it and its folder), or writes to stdout when output is "-" (os.Stdout
// when stdout is nil). It fails when the file cannot be opened.
func New(output string, stdout io.Writer) (*Client, error) {
	if output == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		return &Client{stdout: stdout}, nil
	}
	if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
		return nil, fmt.Errorf("log output: %w", err)
	}
	c := &Client{output: output, open: openFile}
	if err := c.reopen(); err != nil {
		return nil, fmt.Errorf("log output: %w", err)
	}
	return c, nil
}

func openFile(name string) (file, error) {
	return os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o600)
}

// reopen opens the output file and cuts off a partial last line a crash in the middle of a write left.
func (c *Client) reopen() error {
	f, err := c.open(c.output)
	if err != nil {
		return err
	}
	if err := dropPartialLine(f); err != nil {
		f.Close()
		return err
	}
	c.f = f
	return nil
}

// dropPartialLine truncates a regular file after its last newline. Other files (a pipe, a device) are left alone.
func dropPartialLine(f file) error {
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() || info.Size() == 0 {
		return err
	}
	end := info.Size()
	chunk := make([]byte, 64<<10)
	for off := end; off > 0; {
		n := min(int64(len(chunk)), off)
		off -= n
		if _, err := f.ReadAt(chunk[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the last line: %w", err)
		}
		if i := bytes.LastIndexByte(chunk[:n], '\n'); i >= 0 {
			if keep := off + int64(i) + 1; keep != end {
				return f.Truncate(keep)
			}
			return nil
		}
	}
	return f.Truncate(0)
}

// Limits declares batches of 100.
func (c *Client) Limits() crm.Limits { return crm.Limits{SearchBatch: 100, WriteBatch: 100} }

// FindContacts finds no contact for any query; it fails only when ctx is done.
func (c *Client) FindContacts(ctx context.Context, qs []crm.ContactQuery) ([][]crm.Contact, error) {
	return make([][]crm.Contact, len(qs)), ctx.Err()
}

// CreateContact always fails Permanent: a log destination has no contacts.
func (c *Client) CreateContact(ctx context.Context, nc crm.NewContact) (crm.Contact, error) {
	return crm.Contact{}, &crm.Error{Action: crm.Permanent, Message: "a log destination has no contacts: use on_no_match: log_without_contact"}
}

// ResolveOwner knows no owner: it returns "" and no error.
func (c *Client) ResolveOwner(ctx context.Context, email string) (string, error) { return "", nil }

// LogActivities writes one line per activity, the whole batch at once, and syncs the file before reporting
// success. A failed write or sync is retryable, and leaves the file as it was before the batch.
func (c *Client) LogActivities(ctx context.Context, acts []crm.Activity) ([]crm.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]crm.Result, len(acts))
	buf := c.buf[:0]
	for i, a := range acts {
		line := map[string]any{"id": a.SourceID, "timestamp": a.Timestamp.UTC().Format(time.RFC3339Nano)}
		if a.ContactID != "" {
			line["contact_id"] = a.ContactID
		}
		for k, v := range a.Fields {
			line[k] = v
		}
		data, err := json.Marshal(line)
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, data...), '\n')
		res[i] = crm.Result{ID: "log:" + a.SourceID}
	}
	c.buf = buf
	if err := c.write(buf); err != nil {
		return nil, &crm.Error{Action: crm.Retry, Message: "write log output", Err: err}
	}
	return res, nil
}

// UpdateContacts writes one line per update, {"contact_update": id, "kind": ..., "fields": {...}}, the
// whole batch at once, like LogActivities. The log destination matches no contact, so the sync loop never
// calls it; a tool driving the adapter directly sees the update recorded rather than lost.
func (c *Client) UpdateContacts(ctx context.Context, ups []crm.ContactUpdate) ([]crm.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	res := make([]crm.Result, len(ups))
	buf := c.buf[:0]
	for i, u := range ups {
		data, err := json.Marshal(map[string]any{"contact_update": u.ContactID, "kind": u.Kind, "fields": u.Fields})
		if err != nil {
			return nil, err
		}
		buf = append(append(buf, data...), '\n')
		res[i] = crm.Result{ID: u.ContactID}
	}
	c.buf = buf
	if err := c.write(buf); err != nil {
		return nil, &crm.Error{Action: crm.Retry, Message: "write log output", Err: err}
	}
	return res, nil
}

// write appends data and syncs it, or, failing that, truncates the file back to where it ended and closes
// it, for the next batch to open it afresh.
func (c *Client) write(data []byte) error {
	if c.output == "" {
		_, err := c.stdout.Write(data)
		return err
	}
	if c.f == nil {
		if err := c.reopen(); err != nil {
			return err
		}
	}
	info, err := c.f.Stat()
	if err != nil {
		c.drop()
		return err
	}
	_, err = c.f.Write(data)
	if err == nil {
		err = c.f.Sync()
	}
	if err == nil {
		return nil
	}
	if info.Mode().IsRegular() {
		if terr := c.f.Truncate(info.Size()); terr != nil {
			err = fmt.Errorf("%w (and cutting the partial batch off failed: %v)", err, terr)
		}
	}
	c.drop()
	return err
}

func (c *Client) drop() {
	c.f.Close()
	c.f = nil
}

// Close closes the output file (not stdout).
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

var (
	_ crm.Client         = (*Client)(nil)
	_ crm.ContactUpdater = (*Client)(nil)
)
