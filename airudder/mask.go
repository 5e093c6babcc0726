package airudder

// MaskPhone hides all but the last three digits of a phone number for logs: "+8613800138721" becomes
// "+86••••••••721". Numbers are personal data; logs need only enough to tell calls apart.
func MaskPhone(number string) string {
	r := []rune(number)
	if len(r) <= 4 {
		return "•••"
	}
	keepHead := 0
	if r[0] == '+' {
		keepHead = min(3, len(r)-4)
	}
	for i := keepHead; i < len(r)-3; i++ {
		r[i] = '•'
	}
	return string(r)
}
