package airudder

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Decimal is an exact decimal amount. Airudder sends money as strings ("20000.00"); we keep the value and
// its scale, so that "20000.00" is stored as numeric 20000.00 and given back as "20000.00", never as a float.
type Decimal struct {
	decimal.Decimal
}

// ParseDecimal reads a plain decimal number such as "20310.00" or "-1.5".
func ParseDecimal(s string) (Decimal, error) {
	// shopspring accepts exponents ("1e3"); money never comes that way, and a plain form keeps the scale honest.
	if strings.ContainsAny(s, "eE") {
		return Decimal{}, fmt.Errorf("%q is not a plain decimal number", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	return Decimal{d}, nil
}

// String gives the amount with the scale it was written with.
func (d Decimal) String() string {
	if d.Exponent() < 0 {
		return d.StringFixed(-d.Exponent())
	}
	return d.Decimal.String()
}

// MarshalJSON writes the amount as a JSON string, as Airudder does, so no reader turns it into a float.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

// UnmarshalJSON accepts the string form (and, leniently, a bare number).
func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value stores the amount as text, which PostgreSQL's numeric reads exactly.
func (d Decimal) Value() (driver.Value, error) { return d.String(), nil }

// Scan reads a numeric column.
func (d *Decimal) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		return d.UnmarshalJSON(v)
	case string:
		return d.UnmarshalJSON([]byte(v))
	default:
		return fmt.Errorf("scan decimal from %T", src)
	}
}

// Float64 is for rule conditions, which compare amounts with thresholds; storage never uses it.
func (d Decimal) Float64() float64 {
	f, _ := d.Decimal.Float64()
	return f
}

// Date is a calendar day with no time or zone, such as a loan's DueDate.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

const dateLayout = "2006-01-02"

// ParseDate reads "2006-01-02". Airudder's dates carry no time; a datetime with a time part of midnight,
// as some exports write them, is accepted too.
func ParseDate(s string) (Date, error) {
	for _, layout := range []string{dateLayout, "2006-01-02 15:04:05", "2006-01-02T15:04:05Z07:00"} {
		t, err := time.Parse(layout, s)
		if err == nil && (layout == dateLayout || (t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0)) {
			return DateOf(t), nil
		}
	}
	return Date{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
}

// DateOf is the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// In is the start of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

func (d *Date) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return errors.New("date must be a JSON string")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value stores the day in a PostgreSQL date column.
func (d Date) Value() (driver.Value, error) { return d.String(), nil }

// Scan reads a date column (lib/pq gives a time.Time at midnight UTC).
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = DateOf(v)
		return nil
	case []byte:
		return d.UnmarshalJSON(strconv.AppendQuote(nil, string(v)))
	case string:
		return d.UnmarshalJSON([]byte(strconv.Quote(v)))
	default:
		return fmt.Errorf("scan date from %T", src)
	}
}

// zonelessLayouts are the local-time forms Airudder uses, e.g. in RedailCall: "2024-03-11 10:19:27".
var zonelessLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

// ParseTime reads a time in either of Airudder's forms: RFC 3339 with a zone ("2024-03-11T03:20:30Z"), or
// zone-less local time ("2024-03-11 10:19:27"), which is taken to be in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range zonelessLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want RFC 3339 or YYYY-MM-DD HH:MM:SS)", s)
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
