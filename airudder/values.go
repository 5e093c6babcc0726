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

// ParseDecimal reads a plain decimal number such as "20310.00" or "-1.5", one that PostgreSQL's numeric
// can store.
func ParseDecimal(s string) (Decimal, error) {
	// shopspring accepts exponents ("1e3"); money never comes that way, and a plain form keeps the scale honest.
	if strings.ContainsAny(s, "eE") {
		return Decimal{}, fmt.Errorf("%.60q is not a plain decimal number", s)
	}
	if !storableNumber(s) {
		return Decimal{}, fmt.Errorf("%.40q… has more digits than PostgreSQL's numeric stores", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Decimal{}, fmt.Errorf("%.60q is not a decimal number", s)
	}
	return Decimal{d}, nil
}

// ParseAmount reads an amount as a tenant writes it: decimalSep (default ".") before the decimals, and
// thousandsSep (default ",", the other of "." and "," when decimalSep is ",") between groups of three
// digits, e.g. "12,000.00" or, with "," and ".", "12.000,00". Grouping must be regular ("1,2,3" is not
// an amount), so that a separator is never guessed.
func ParseAmount(s, decimalSep, thousandsSep string) (Decimal, error) {
	decimalSep, thousandsSep = AmountSeparators(decimalSep, thousandsSep)
	plain := strings.TrimSpace(s)
	if thousandsSep != "" && strings.Contains(plain, thousandsSep) {
		intPart, frac, hasFrac := strings.Cut(plain, decimalSep)
		sign := ""
		if strings.HasPrefix(intPart, "-") || strings.HasPrefix(intPart, "+") {
			sign, intPart = intPart[:1], intPart[1:]
		}
		groups := strings.Split(intPart, thousandsSep)
		for i, g := range groups {
			if len(g) == 0 || len(g) > 3 || (i > 0 && len(g) != 3) || strings.Trim(g, "0123456789") != "" {
				return Decimal{}, fmt.Errorf("%.60q is not an amount (thousands separator %q, decimal separator %q)", s, thousandsSep, decimalSep)
			}
		}
		plain = sign + strings.Join(groups, "")
		if hasFrac {
			plain += decimalSep + frac
		}
	}
	if decimalSep != "." {
		if strings.Contains(plain, ".") {
			return Decimal{}, fmt.Errorf("%.60q is not an amount (decimal separator %q)", s, decimalSep)
		}
		plain = strings.Replace(plain, decimalSep, ".", 1)
	}
	d, err := ParseDecimal(plain)
	if err != nil {
		return Decimal{}, fmt.Errorf("%.60q is not an amount (thousands separator %q, decimal separator %q)", s, thousandsSep, decimalSep)
	}
	return d, nil
}

// AmountSeparators fills in the defaults of a source's separators: "." for decimals, and for thousands
// "," (or "." when decimals are written with ","). "none" means no thousands separator.
func AmountSeparators(decimalSep, thousandsSep string) (string, string) {
	if decimalSep == "" {
		decimalSep = "."
	}
	switch {
	case thousandsSep == "none":
		thousandsSep = ""
	case thousandsSep == "" && decimalSep == ",":
		thousandsSep = "."
	case thousandsSep == "":
		thousandsSep = ","
	}
	return decimalSep, thousandsSep
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
func ParseDate(s string) (Date, error) { return ParseDateIn(s, nil) }

// ParseDateIn reads a date as ParseDate does, or in one of the source's layouts (Go layouts such as
// "02/01/2006"). Only years 1 to 9999 are dates: PostgreSQL has no year 0, and no tenant's loan is older.
func ParseDateIn(s string, layouts []string) (Date, error) {
	for _, layout := range append([]string{dateLayout, "2006-01-02 15:04:05", "2006-01-02T15:04:05Z07:00"}, layouts...) {
		t, err := time.Parse(layout, s)
		if err == nil && (layout != "2006-01-02 15:04:05" && layout != "2006-01-02T15:04:05Z07:00" ||
			(t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0)) {
			if t.Year() < 1 || t.Year() > 9999 {
				return Date{}, fmt.Errorf("%.60q is out of range (years 1 to 9999)", s)
			}
			return DateOf(t), nil
		}
	}
	want := "YYYY-MM-DD"
	if len(layouts) > 0 {
		want += " or " + strings.Join(layouts, ", ")
	}
	return Date{}, fmt.Errorf("%.60q is not a date (want %s)", s, want)
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
//
// Only times in the years 1 to 9999 (UTC) are times: PostgreSQL has no year 0.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	for _, layout := range zonelessLayouts {
		if err == nil {
			break
		}
		t, err = time.ParseInLocation(layout, s, loc)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%.60q is not a time (want RFC 3339 or YYYY-MM-DD HH:MM:SS)", s)
	}
	if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%.60q is out of range (years 1 to 9999)", s)
	}
	return t, nil
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
