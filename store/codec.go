package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"time"
)

// Records are written in a compact binary form: encoding/json of a Job (three time.Time in RFC 3339 each way)
// cost more of the committer's serial time than the B+tree work it goes with. Records written by layout 2 and
// earlier are JSON and stay readable: a JSON job starts with '{', a binary one with jobFormat; a binary event
// header sets binaryHeader in its length word. Nothing is rewritten on open.
//
// A field added to Job or Event goes into both functions of its record; once a binary release has shipped,
// a new field needs a new jobFormat (or header flag) that decodeJob tells apart from the old one.
// Every field is written: TestCodecCoversEveryField fails when a field is added to Job or Event without being
// added here.

const jobFormat = 1 // first byte of a binary job record

// binaryHeader marks an event whose header (the 4-byte length word's low bits) is binary rather than JSON.
const binaryHeader = 1 << 31

var errCorrupt = errors.New("corrupt record")

// encodeJob appends j's binary record to b (Dest and Seq are the key, not stored).
func encodeJob(b []byte, j *Job) []byte {
	b = append(b, jobFormat)
	b = appendString(b, j.State)
	b = binary.AppendUvarint(b, uint64(j.Attempts))
	b = appendTime(b, j.Created)
	b = appendTime(b, j.NextAttempt)
	b = appendTime(b, j.SentAt)
	b = appendTime(b, j.FirstSent)
	b = appendTime(b, j.Finished)
	b = appendTime(b, j.ParkedAt)
	b = appendString(b, j.LastError)
	b = appendString(b, j.RecordID)
	b = appendString(b, j.ContactID)
	b = binary.AppendUvarint(b, uint64(len(j.ContactUpdate)))
	b = append(b, j.ContactUpdate...)
	var flags byte
	if j.Ambiguous {
		flags |= 1
	}
	return append(b, flags)
}

// decodeJob reads a job record, binary or (written before layout 3) JSON.
func decodeJob(v []byte, j *Job) error {
	if len(v) > 0 && v[0] == '{' {
		return json.Unmarshal(v, j)
	}
	if len(v) == 0 || v[0] != jobFormat {
		return errCorrupt
	}
	r := reader{b: v[1:]}
	j.State = r.string()
	j.Attempts = int(r.uvarint())
	j.Created = r.time()
	j.NextAttempt = r.time()
	j.SentAt = r.time()
	j.FirstSent = r.time()
	j.Finished = r.time()
	j.ParkedAt = r.time()
	j.LastError = r.string()
	j.RecordID = r.string()
	j.ContactID = r.string()
	if u := r.bytes(); len(u) > 0 {
		j.ContactUpdate = u // empty reads as absent, as omitempty had it in JSON
	}
	flags := r.byte()
	j.Ambiguous = flags&1 != 0
	return r.err
}

// encodeEventHeader appends e's binary header (every field but Seq and Raw) to b. The source id is kept byte
// for byte, valid UTF-8 or not.
func encodeEventHeader(b []byte, e *Event) []byte {
	b = appendString(b, e.Class)
	b = appendString(b, e.Status)
	b = appendString(b, e.SourceID)
	b = appendString(b, e.EventName)
	b = appendTime(b, e.Received)
	keys := make([]string, 0, len(e.Problems))
	for k := range e.Problems {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, e.Problems[k])
	}
	b = binary.AppendUvarint(b, uint64(len(e.Dests)))
	for _, d := range e.Dests {
		b = appendString(b, d)
	}
	return b
}

func decodeEventHeader(h []byte, e *Event) error {
	r := reader{b: h}
	e.Class = r.string()
	e.Status = r.string()
	e.SourceID = r.string()
	e.EventName = r.string()
	e.Received = r.time()
	if n := r.count(); n > 0 {
		e.Problems = make(map[string]string, n)
		for range n {
			k := r.string()
			e.Problems[k] = r.string()
		}
	}
	if n := r.count(); n > 0 {
		e.Dests = make([]string, n)
		for i := range e.Dests {
			e.Dests[i] = r.string()
		}
	}
	return r.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime writes t as unix seconds and nanoseconds: the instant survives, the location does not (times
// read back are UTC, as they were in JSON written by the default clock's UTC callers; Equal holds either way).
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// reader decodes a binary record; the first failure sticks in err and later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() { r.err, r.b = errCorrupt, nil }

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that must fit in what is left of the record.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.count()
	out := append([]byte(nil), r.b[:n]...) // bbolt's memory is only valid during the transaction
	r.b = r.b[n:]
	return out
}

func (r *reader) string() string {
	n := r.count()
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	if r.byte() == 0 {
		return time.Time{}
	}
	sec := r.varint()
	nsec := r.uvarint()
	if r.err != nil || nsec >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
