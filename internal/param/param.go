// Package param is the one error type for a parameter of a library call
// that is missing or wrong (a field of verify.Request, an argument of
// attest.Check), named as the library calls it. Each edge says it in its
// own words with Say: the CLI names the flag (--source), the service's API
// the JSON field (source). A library message never names a flag.
package param

import (
	"fmt"
	"regexp"
	"strings"
)

// Error is a message about a parameter. Its format writes every parameter
// it names, Param included, as {Name}: Error() keeps the library's names,
// In and Say put an edge's in their place.
type Error struct {
	Param   string // the parameter at fault, as the library calls it
	format  string
	args    []any
	wrapped error // fmt.Errorf of format with the library's names
}

// Errorf is fmt.Errorf (with %w) for a message about param; format names
// each parameter as {Name}, e.g. Errorf("Lock", "{Lock} %s: only with
// {Network} proxy", lock).
func Errorf(param, format string, args ...any) *Error {
	return &Error{Param: param, format: format, args: args, wrapped: fmt.Errorf(name(format, nil), args...)}
}

func (e *Error) Error() string { return e.wrapped.Error() }

// Unwrap is what the format's %w verbs wrap.
func (e *Error) Unwrap() []error {
	switch u := e.wrapped.(type) {
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			return []error{w}
		}
	}
	return nil
}

// In is the message with each parameter named by as(name); nil keeps the
// library's names. Errors among the arguments are said the same way.
func (e *Error) In(as func(string) string) string {
	if as == nil {
		return e.Error()
	}
	args := make([]any, len(e.args))
	for i, a := range e.args {
		if err, ok := a.(error); ok {
			a = said{err, as}
		}
		args[i] = a
	}
	return fmt.Errorf(name(e.format, as), args...).Error()
}

// Sprintf is fmt.Sprintf of a format that names parameters as {Name},
// each named by as(Name) (nil: the library's names): for messages that
// are not errors, such as a report's hints.
func Sprintf(as func(string) string, format string, args ...any) string {
	return fmt.Sprintf(name(format, as), args...)
}

// Say is err's message with the parameters of every *Error in it named by
// as: the one translation an edge makes. An *Error's text stands verbatim
// in the messages that wrap it, and is replaced there.
func Say(err error, as func(string) string) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if as == nil {
		return msg
	}
	for _, e := range outermost(err, nil, 0) {
		msg = strings.ReplaceAll(msg, e.Error(), e.In(as))
	}
	return msg
}

// maxDepth bounds the walk of an error's tree.
const maxDepth = 64

// outermost are the *Errors in err's tree that no other *Error wraps.
func outermost(err error, out []*Error, depth int) []*Error {
	if e, ok := err.(*Error); ok {
		return append(out, e)
	}
	if depth >= maxDepth {
		return out
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, w := range u.Unwrap() {
			out = outermost(w, out, depth+1)
		}
	case interface{ Unwrap() error }:
		if w := u.Unwrap(); w != nil {
			out = outermost(w, out, depth+1)
		}
	}
	return out
}

// said is an error argument of an *Error, said in an edge's words.
type said struct {
	err error
	as  func(string) string
}

func (s said) Error() string { return Say(s.err, s.as) }
func (s said) Unwrap() error { return s.err }

var placeholder = regexp.MustCompile(`\{([A-Za-z][A-Za-z0-9]*)\}`)

// name replaces each {Name} of a format by as(Name), or Name when as is
// nil; a '%' in a name is escaped.
func name(format string, as func(string) string) string {
	return placeholder.ReplaceAllStringFunc(format, func(m string) string {
		n := m[1 : len(m)-1]
		if as != nil {
			n = as(n)
		}
		return strings.ReplaceAll(n, "%", "%%")
	})
}
