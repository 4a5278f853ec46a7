// Package buildversion is the plugins' own: the release build stamps BuildVersion with
// -ldflags -X.
package buildversion

var BuildVersion = "version unknown"

func BuildString(pluginName string) string {
	return "CNI " + pluginName + " plugin " + BuildVersion
}
