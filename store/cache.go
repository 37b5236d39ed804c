package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CachedContact is a contact the sync loop found or created, remembered per destination and query key so that
// repeated SMS with one person cost no search, and a contact just created is found before the CRM's search
// index shows it.
type CachedContact struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind,omitempty"`
	OwnerID   string    `json:"owner_id,omitempty"`
	CompanyID string    `json:"company_id,omitempty"`
	Expires   time.Time `json:"expires"`
	// Cached is when the entry was stored (CacheContacts sets it): retention drops entries older than its
	// cutoff even when their Expires is later, so the cache never outlives the events it came from.
	Cached time.Time `json:"cached,omitzero"`
}

func cacheKey(dest, key string) []byte { return append(destPrefix(dest), key...) }

// splitCacheKey returns the destination and query key of a contacts bucket key.
func splitCacheKey(k []byte) (dest, key []byte) {
	i := indexZero(k)
	if i == len(k) {
		return k, nil
	}
	return k[:i], k[i+1:]
}

// CachedContact returns the unexpired cache entry for dest and key.
func (s *Store) CachedContact(dest, key string, now time.Time) (CachedContact, bool, error) {
	var c CachedContact
	err := s.db.View(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bContacts), cacheKey(dest, key), &c) })
	if err == ErrNotFound || (err == nil && !now.Before(c.Expires)) {
		return CachedContact{}, false, nil
	}
	if err != nil {
		return CachedContact{}, false, fmt.Errorf("contact cache %s: %w", key, err)
	}
	return c, true, nil
}

// CacheContacts stores entries (query key -> contact) for dest in one durable write.
func (s *Store) CacheContacts(dest string, entries map[string]CachedContact) error {
	_, err := s.cacheContacts(dest, nil, entries)
	return err
}

// CacheContactsAt is CacheContacts for entries looked up after ForgetEpoch returned epoch: if a forget
// (ForgetPerson, ForgetContacts) erased cache entries since, it writes nothing and returns false, so a batch
// in flight cannot put back a contact an erasure request just removed. The caller looks up again next time.
func (s *Store) CacheContactsAt(dest string, epoch uint64, entries map[string]CachedContact) (stored bool, err error) {
	return s.cacheContacts(dest, &epoch, entries)
}

func (s *Store) cacheContacts(dest string, epoch *uint64, entries map[string]CachedContact) (stored bool, err error) {
	if len(entries) == 0 {
		return true, nil
	}
	now := s.now()
	err = s.update(func(tx *bolt.Tx) error {
		// Checked in the committer, where forgetContacts moves the epoch: no erasure can slip in between.
		if stored = epoch == nil || *epoch == s.forgetEpoch.Load(); !stored {
			return nil
		}
		for k, c := range entries {
			if c.Cached.IsZero() {
				c.Cached = now
			}
			if err := putJSON(tx.Bucket(bContacts), cacheKey(dest, k), c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cache contacts: %w", err)
	}
	return stored, nil
}

// ForgetContact drops every cache entry of dest pointing at contact id (the CRM said it is gone).
func (s *Store) ForgetContact(dest, id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		p := destPrefix(dest)
		c := tx.Bucket(bContacts).Cursor()
		var del [][]byte
		for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
			var cc CachedContact
			if err := unmarshal(v, &cc); err == nil && cc.ID == id {
				del = append(del, append([]byte(nil), k...))
			}
		}
		for _, k := range del {
			if err := tx.Bucket(bContacts).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget contact %s: %w", id, err)
	}
	return nil
}

// sweepContacts removes, among the next sweepScan cache entries from key from, those expired at now or cached
// before cutoff, and returns the key to resume at (nil when done).
func (s *Store) sweepContacts(from []byte, now, cutoff time.Time) (next []byte, err error) {
	err = s.update(func(tx *bolt.Tx) error {
		next = nil
		b := tx.Bucket(bContacts)
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		var del [][]byte
		for scanned := 0; k != nil; k, v = c.Next() {
			if scanned == sweepScan {
				next = append([]byte(nil), k...)
				break
			}
			scanned++
			var cc CachedContact
			if err := unmarshal(v, &cc); err != nil || !now.Before(cc.Expires) || (!cc.Cached.IsZero() && cc.Cached.Before(cutoff)) {
				del = append(del, append([]byte(nil), k...))
			}
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return next, err
}
