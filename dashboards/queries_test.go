package dashboards

// mappedColor is the colour of the value mapped to text.
func mappedColor(mappings []struct {
	Type    string
	Options map[string]struct{ Text, Color string }
}, text string) string {
	for _, m := range mappings {
		for _, o := range m.Options {
			if o.Text == text {
				return o.Color
			}
		}
	}
	return ""
}
