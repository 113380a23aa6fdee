package validate

// stableName is the name an object is reported under: its name, else
// its generateName with "*" for the suffix the API server adds (a hook
// Job is Job/hook-*, not Job/), so reports of two runs are alike.
func stableName(name string, metadata map[string]any) string {
	if name != "" {
		return name
	}
	if g, _ := metadata["generateName"].(string); g != "" {
		return g + "*"
	}
	return ""
}
