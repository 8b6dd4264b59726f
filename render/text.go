package render

import (
	"fmt"
	"io"
	"reflect"

	"github.com/reprover/reprover/internal/text"
)

// TextOptions configure the text renderers.
type TextOptions struct {
	Color bool // ANSI colours, for a terminal
	// MaxFiles caps the files listed per section (0: 200).
	MaxFiles int
}

// Text writes reports for people, line by line; the first write error
// stops it and is kept for Err.
type Text struct {
	w   io.Writer
	o   TextOptions
	err error
}

// NewText returns a Text writing to w.
func NewText(w io.Writer, o TextOptions) *Text {
	if o.MaxFiles == 0 {
		o.MaxFiles = 200
	}
	return &Text{w: w, o: o}
}

// Options are the options the Text was made with, defaults filled in.
func (p *Text) Options() TextOptions { return p.o }

// Err is the first write error.
func (p *Text) Err() error { return p.err }

// Styled is text ready for the terminal: made visible and perhaps
// coloured. Line writes it as it is.
type Styled string

// Line writes one line. The format is the program's; the arguments are
// data, from an image, a provenance or a repository: each string among
// them (a string, an error, a Stringer) is made visible (text.Visible),
// so that it can neither act on the terminal nor start a line, except a
// Styled one.
func (p *Text) Line(format string, args ...any) {
	if p.err != nil {
		return
	}
	vs := make([]any, len(args))
	for i, a := range args {
		vs[i] = visibleArg(a)
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", vs...)
}

func visibleArg(a any) any {
	switch v := a.(type) {
	case Styled:
		return string(v)
	case string:
		return text.Visible(v)
	case error:
		return text.Visible(v.Error())
	case fmt.Stringer:
		return text.Visible(v.String())
	}
	if v := reflect.ValueOf(a); v.Kind() == reflect.String { // a named string type
		return text.Visible(v.String())
	}
	return a
}

// Paint colours s with the SGR code ("31": red), when the Text colours.
func (p *Text) Paint(code string, s Styled) Styled {
	if !p.o.Color {
		return s
	}
	return "\x1b[" + Styled(code) + "m" + s + "\x1b[0m"
}

// wrap is s made visible and coloured.
func (p *Text) wrap(code, s string) Styled { return p.Paint(code, Styled(text.Visible(s))) }

// Bold, Red, Green and Yellow are s made visible, in bold or colour.
func (p *Text) Bold(s string) Styled   { return p.wrap("1", s) }
func (p *Text) Red(s string) Styled    { return p.wrap("31", s) }
func (p *Text) Green(s string) Styled  { return p.wrap("32", s) }
func (p *Text) Yellow(s string) Styled { return p.wrap("33", s) }

// Verdict is a verdict in green (good) or red.
func (p *Text) Verdict(v string, good bool) Styled {
	if good {
		return p.wrap("1;32", v)
	}
	return p.wrap("1;31", v)
}
