package flowscope

import (
	"encoding"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// Type is the type of a record field, in Zeek's vocabulary: a scalar
// (count, time, addr, ...) or a set or vector of one.
type Type uint8

// The scalar types.
const (
	// TypeBool is true or false.
	TypeBool Type = iota + 1
	// TypeCount is an unsigned integer.
	TypeCount
	// TypeInt is a signed integer.
	TypeInt
	// TypeDouble is a floating-point number.
	TypeDouble
	// TypeTime is a point in time, held in Unix nanoseconds.
	TypeTime
	// TypeInterval is a length of time, held in nanoseconds.
	TypeInterval
	// TypeString is text, or bytes as captured.
	TypeString
	// TypeEnum is a name from a fixed set (Zeek's enum: "tcp", "udp").
	TypeEnum
	// TypeAddr is an IPv4 or IPv6 address.
	TypeAddr
	// TypePort is a transport port (for ICMP, a type or code).
	TypePort
	numScalars
)

const (
	elemMask Type = 0x0f
	setBit   Type = 0x10 // a set of the element type
	vecBit   Type = 0x20 // a vector of the element type
)

// SetOf returns the type of a set of elem (Zeek's set[elem]): an
// unordered collection, written in the order given.
func SetOf(elem Type) Type { return elem&elemMask | setBit }

// VectorOf returns the type of a vector of elem (Zeek's vector[elem]).
func VectorOf(elem Type) Type { return elem&elemMask | vecBit }

// Elem returns the element type of a set or vector, and t itself for a
// scalar.
func (t Type) Elem() Type { return t & elemMask }

// IsSet reports whether t is a set type.
func (t Type) IsSet() bool { return t&setBit != 0 }

// IsVector reports whether t is a vector type.
func (t Type) IsVector() bool { return t&vecBit != 0 }

// IsList reports whether t is a set or vector type.
func (t Type) IsList() bool { return t&(setBit|vecBit) != 0 }

var typeNames = [numScalars]string{"", "bool", "count", "int", "double", "time", "interval", "string", "enum", "addr", "port"}

// String returns the type as Zeek writes it in a log's #types line:
// "count", "set[string]", "vector[interval]".
func (t Type) String() string {
	e := t.Elem()
	if e == 0 || e >= numScalars || t&^(elemMask|setBit|vecBit) != 0 || t.IsSet() && t.IsVector() {
		return "invalid"
	}
	switch {
	case t.IsSet():
		return "set[" + typeNames[e] + "]"
	case t.IsVector():
		return "vector[" + typeNames[e] + "]"
	}
	return typeNames[e]
}

// Value is the value of one record field. The zero Value is unset: the
// field has no value in this record (JSON leaves it out, Zeek's TSV
// writes "-"). A Value is small and is built without allocating, except
// for lists, which hold the slice given.
type Value struct {
	t    Type
	num  uint64
	str  string
	addr netip.Addr
	// ref holds a list's []string or []Value, or the
	// encoding.TextAppender of a string given as one (TextValue).
	ref any
}

// BoolValue returns a bool value.
func BoolValue(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{t: TypeBool, num: n}
}

// CountValue returns a count value.
func CountValue(n uint64) Value { return Value{t: TypeCount, num: n} }

// IntValue returns an int value.
func IntValue(n int64) Value { return Value{t: TypeInt, num: uint64(n)} }

// DoubleValue returns a double value.
func DoubleValue(f float64) Value { return Value{t: TypeDouble, num: math.Float64bits(f)} }

// TimeValue returns a time value from Unix nanoseconds.
func TimeValue(ns int64) Value { return Value{t: TypeTime, num: uint64(ns)} }

// IntervalValue returns an interval value.
func IntervalValue(d time.Duration) Value { return Value{t: TypeInterval, num: uint64(d)} }

// StringValue returns a string value.
func StringValue(s string) Value { return Value{t: TypeString, str: s} }

// TextValue returns a string value whose text a appends when an encoder
// asks for it, so that text that is computed (a hash, a fingerprint) is
// written without being made a string first. a must not fail, and must
// give the same text every time; a pointer is stored without allocating.
func TextValue(a encoding.TextAppender) Value { return Value{t: TypeString, ref: a} }

// EnumValue returns an enum value: a name from a fixed set.
func EnumValue(name string) Value { return Value{t: TypeEnum, str: name} }

// AddrValue returns an address value; an invalid (zero) netip.Addr gives
// an unset Value.
func AddrValue(a netip.Addr) Value {
	if !a.IsValid() {
		return Value{}
	}
	return Value{t: TypeAddr, addr: a}
}

// PortValue returns a port value.
func PortValue(p uint16) Value { return Value{t: TypePort, num: uint64(p)} }

// StringsValue returns a list value of type t (a set or vector of strings
// or enums) holding ss, which it keeps: ss must not change while the
// value is in use. An empty list is a value, not unset.
func StringsValue(t Type, ss []string) Value {
	if !t.IsList() || (t.Elem() != TypeString && t.Elem() != TypeEnum) {
		panic("flowscope.StringsValue: " + t.String() + " is not a list of strings")
	}
	return Value{t: t, ref: ss}
}

// ListValue returns a list value of type t (a set or vector) holding vs,
// which it keeps; each element's type must be t's element type.
func ListValue(t Type, vs []Value) Value {
	if !t.IsList() {
		panic("flowscope.ListValue: " + t.String() + " is not a set or vector type")
	}
	return Value{t: t, ref: vs}
}

// Type returns the value's type, 0 for an unset value.
func (v Value) Type() Type { return v.t }

// Present reports whether the value is set.
func (v Value) Present() bool { return v.t != 0 }

// Bool returns a bool value.
func (v Value) Bool() bool { return v.num != 0 }

// Count returns a count or port value.
func (v Value) Count() uint64 { return v.num }

// Int returns an int value.
func (v Value) Int() int64 { return int64(v.num) }

// Double returns a double value.
func (v Value) Double() float64 { return math.Float64frombits(v.num) }

// Time returns a time value, in Unix nanoseconds.
func (v Value) Time() int64 { return int64(v.num) }

// Interval returns an interval value.
func (v Value) Interval() time.Duration { return time.Duration(v.num) }

// Addr returns an address value.
func (v Value) Addr() netip.Addr { return v.addr }

// Port returns a port value.
func (v Value) Port() uint16 { return uint16(v.num) }

// AppendText appends the text of a string or enum value to b.
func (v Value) AppendText(b []byte) []byte {
	if a, ok := v.ref.(encoding.TextAppender); ok {
		b, _ = a.AppendText(b)
		return b
	}
	return append(b, v.str...)
}

// Len returns the number of elements of a list value, 0 for others.
func (v Value) Len() int {
	switch l := v.ref.(type) {
	case []string:
		return len(l)
	case []Value:
		return len(l)
	}
	return 0
}

// Index returns element i of a list value.
func (v Value) Index(i int) Value {
	switch l := v.ref.(type) {
	case []string:
		return Value{t: v.t.Elem(), str: l[i]}
	case []Value:
		return l[i]
	}
	panic("flowscope.Value.Index: not a list")
}

// String returns the value as text: a string or enum itself, numbers in
// decimal, times and intervals in seconds, addresses in RFC 5952 form,
// lists as their elements joined by commas, and "" when unset. It is for
// reading values; encoders format each type their own way.
func (v Value) String() string {
	if v.t.IsList() {
		var b []byte
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v.Index(i).String()...)
		}
		return string(b)
	}
	switch v.t {
	case TypeBool:
		return strconv.FormatBool(v.Bool())
	case TypeCount, TypePort:
		return strconv.FormatUint(v.num, 10)
	case TypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case TypeDouble:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case TypeTime, TypeInterval:
		return strconv.FormatFloat(float64(int64(v.num))/1e9, 'f', -1, 64)
	case TypeString, TypeEnum:
		if v.ref != nil {
			return string(v.AppendText(nil))
		}
		return v.str
	case TypeAddr:
		return v.addr.String()
	}
	return ""
}
