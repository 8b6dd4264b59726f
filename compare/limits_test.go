package compare

import (
	"reflect"
	"testing"
)

// TestLimitsDefaults: withDefaults keeps every field that is set and
// fills every zero one with its default, whichever package (layer,
// internal/archive, compare) owns the field.
func TestLimitsDefaults(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits {
		t.Errorf("zero limits: %+v, want the defaults %+v", got, DefaultLimits)
	}
	typ := reflect.TypeFor[Limits]()
	for i := range typ.NumField() {
		t.Run(typ.Field(i).Name, func(t *testing.T) {
			var l Limits
			f := reflect.ValueOf(&l).Elem().Field(i)
			switch f.Kind() {
			case reflect.Int, reflect.Int64:
				f.SetInt(7)
			case reflect.Uint64:
				f.SetUint(7)
			default:
				t.Fatalf("a field of kind %s", f.Kind())
			}
			got := reflect.ValueOf(l.withDefaults())
			want := reflect.ValueOf(DefaultLimits)
			for j := range typ.NumField() {
				w := want.Field(j).Interface()
				if j == i {
					w = f.Interface()
				}
				if g := got.Field(j).Interface(); g != w {
					t.Errorf("%s = %v, want %v", typ.Field(j).Name, g, w)
				}
			}
		})
	}
}
