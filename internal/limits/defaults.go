package limits

import "reflect"

// WithDefaults is l with each field that is zero (or, for a number,
// negative) taken from d: the one way every package's Limits fills in its
// DefaultLimits (as go-containerregistry's makeOptions is its one way
// with options). L must be a struct; a field that is itself a struct is
// filled the same way.
func WithDefaults[L any](l, d L) L {
	fill(reflect.ValueOf(&l).Elem(), reflect.ValueOf(d))
	return l
}

func fill(l, d reflect.Value) {
	for i := range l.NumField() {
		f, df := l.Field(i), d.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if f.Int() <= 0 {
				f.Set(df)
			}
		case reflect.Struct:
			fill(f, df)
		default:
			if f.IsZero() {
				f.Set(df)
			}
		}
	}
}
