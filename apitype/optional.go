package apitype

import (
	"bytes"
	"encoding/json"
)

// Optional is a request member that may be absent, null or a value, three
// things a PATCH body tells apart: {"limit":null} removes a key's limit,
// {} leaves it alone. The zero value is absent; with the omitzero option
// an absent member is left out of the body, and a present one is written
// as null or its value. Decoding a member, null included, sets Set.
type Optional[T any] struct {
	Set   bool // the member is present, as null or a value
	Value *T   // nil for null (or absent)
}

// Some returns an Optional holding v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: &v} }

// Null returns an Optional that is present and null.
func Null[T any]() Optional[T] { return Optional[T]{Set: true} }

// IsNull reports whether o is present and null.
func (o Optional[T]) IsNull() bool { return o.Set && o.Value == nil }

// IsZero reports whether o is absent, for omitzero.
func (o Optional[T]) IsZero() bool { return !o.Set }

// MarshalJSON writes null or the value.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if o.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(*o.Value)
}

// UnmarshalJSON records that the member is present, and its value unless
// it is null.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set, o.Value = true, nil
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}
