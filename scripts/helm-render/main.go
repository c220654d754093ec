// helm-render renders a Helm chart the way `helm template` does, for the
// project's checks on machines without Helm (Debian has no Helm package).
// It is not a template engine of its own: templates run on Go's
// text/template with the Sprig function library, the engine and functions
// Helm itself uses, plus Helm's additions the chart needs (include, tpl,
// required, toYaml, fromYaml, .Files.Get), with Helm's rules for values
// (values.yaml deep-merged with each -f file), missing keys (empty) and
// output ("---" and "# Source:" per manifest, empty ones dropped).
//
//	go run ./scripts/helm-render CHART_DIR [-f VALUES.yaml]... [-name RELEASE] [-namespace NS]
//
// Built in GOPATH mode against Debian's golang-github-masterminds-sprig-dev
// and golang-gopkg-yaml.v3-dev (tests/deploy_checks.sh).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	semver "github.com/Masterminds/semver" // v3, as Helm (GOPATH mode: no /v3)
	sprig "github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// APIVersions is .Capabilities.APIVersions: Has("group/version") or
// Has("group/version/Kind"), as Helm answers from the cluster (or
// `helm template --api-versions`).
type APIVersions []string

func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v || strings.HasPrefix(x, v+"/") {
			return true
		}
	}
	return false
}

// Chart is .Chart, with Helm's field names.
type Chart struct {
	APIVersion  string `yaml:"apiVersion"`
	Name        string `yaml:"name"`
	Version     string `yaml:"version"`
	AppVersion  string `yaml:"appVersion"`
	Description string `yaml:"description"`
	Type        string `yaml:"type"`
	KubeVersion string `yaml:"kubeVersion"`
}

// kubeVersionSatisfies reads Chart.yaml's kubeVersion as Helm does
// (Masterminds/semver constraints).
func kubeVersionSatisfies(constraint, version string) (bool, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return false, fmt.Errorf("Chart.yaml: kubeVersion %q: %v", constraint, err)
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false, fmt.Errorf("-kube-version %q: %v", version, err)
	}
	return c.Check(v), nil
}

// Files is .Files: the chart's own files.
type Files struct{ dir string }

// Get returns a file of the chart ("" when it cannot be read, as Helm).
func (f Files) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, filepath.Clean("/"+name)))
	if err != nil {
		return ""
	}
	return string(b)
}

func readYaml(path string, out interface{}) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// merge deep-merges src into dst: maps recursively, anything else replaced.
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func toYaml(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func main() {
	var values valueFiles
	flag.Var(&values, "f", "values file merged over the chart's values.yaml (repeatable)")
	name := flag.String("name", "release", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	apiVersions := flag.String("api-versions", "", "comma-separated API versions the cluster serves beyond the built-in ones (helm template --api-versions)")
	kubeVersion := flag.String("kube-version", "v1.29.0", "the cluster's Kubernetes version (helm template --kube-version)")
	// Flags before and after CHART_DIR, as helm takes them.
	var positional []string
	for args := os.Args[1:]; len(args) > 0; {
		if err := flag.CommandLine.Parse(args); err != nil {
			os.Exit(2)
		}
		if args = flag.Args(); len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	if len(positional) != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render CHART_DIR [-f VALUES]... [-name N] [-namespace NS]")
		os.Exit(2)
	}
	if err := render(positional[0], values, *name, *namespace, *apiVersions, *kubeVersion); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
}

func render(dir string, valueFiles []string, release, namespace, apiVersions, kubeVersion string) error {
	var chart Chart
	if err := readYaml(filepath.Join(dir, "Chart.yaml"), &chart); err != nil {
		return err
	}
	if chart.APIVersion != "v2" || chart.Name == "" || chart.Version == "" {
		return errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}
	vals := map[string]interface{}{}
	if err := readYaml(filepath.Join(dir, "values.yaml"), &vals); err != nil {
		return err
	}
	for _, f := range valueFiles {
		extra := map[string]interface{}{}
		if err := readYaml(f, &extra); err != nil {
			return err
		}
		merge(vals, extra)
	}
	top := map[string]interface{}{
		"Values":  vals,
		"Chart":   chart,
		"Files":   Files{dir},
		"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true},
	}
	versions := APIVersions{"v1", "apps/v1", "policy/v1", "batch/v1", "networking.k8s.io/v1"}
	for _, v := range strings.Split(apiVersions, ",") {
		if v = strings.TrimSpace(v); v != "" {
			versions = append(versions, v)
		}
	}
	top["Capabilities"] = map[string]interface{}{
		"APIVersions": versions,
		"KubeVersion": map[string]interface{}{"Version": kubeVersion, "GitVersion": kubeVersion},
	}
	if chart.KubeVersion != "" {
		ok, err := kubeVersionSatisfies(chart.KubeVersion, kubeVersion)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", chart.KubeVersion, kubeVersion)
		}
	}

	t := template.New("chart")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env") // Helm leaves these out
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		inner, err := t.Clone()
		if err != nil {
			return "", err
		}
		if inner, err = inner.New("tpl").Parse(text); err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = inner.Execute(&buf, data)
		return buf.String(), err
	}
	t.Funcs(funcs).Option("missingkey=zero")

	paths, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	var manifests []string
	for _, p := range paths {
		base := filepath.Base(p)
		if !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tname := chart.Name + "/templates/" + base
		if _, err := t.New(tname).Parse(string(b)); err != nil {
			return err
		}
		if !strings.HasPrefix(base, "_") && strings.HasSuffix(base, ".yaml") {
			manifests = append(manifests, tname)
		}
	}
	var out strings.Builder
	for _, m := range manifests {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, m, top); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", m, strings.Trim(text, "\n"))
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}
