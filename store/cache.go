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
}

func cacheKey(dest, key string) []byte { return append(destPrefix(dest), key...) }

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
	if len(entries) == 0 {
		return nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		for k, c := range entries {
			if err := putJSON(tx.Bucket(bContacts), cacheKey(dest, k), c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache contacts: %w", err)
	}
	return nil
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
