//! The prompt template: Liquid semantics, strict about unknown variables and filters.

use baton_core::domain::IssueSnapshot;
use baton_core::workflow::{Workflow, DEFAULT_PROMPT};
use baton_runner::prompt::{PromptError, PromptInput, PromptTemplate, RepoVars};
use baton_runner::workspace::{RepoConfig, RepoSource};

fn issue() -> IssueSnapshot {
    IssueSnapshot {
        id: "I_kw123".into(),
        identifier: "acme/app#12".into(),
        title: "Crash on start".into(),
        body: "It crashes when HOME is unset.".into(),
        state: "open".into(),
        labels: vec!["baton".into(), "bug".into()],
        url: Some("https://github.com/acme/app/issues/12".into()),
        repository: Some("acme/app".into()),
        author: Some("octocat".into()),
    }
}

fn render(template: &str, attempt: Option<u32>) -> Result<String, PromptError> {
    let issue = issue();
    PromptTemplate::parse(template)?.render(&PromptInput::new(&issue, attempt))
}

#[test]
fn a_symphony_style_template_renders() {
    let template = r#"You are working on {{ issue.identifier }}: {{ issue.title }}
State: {{ issue.state }}. Labels: {{ issue.labels | join: ", " }}.
{% if issue.priority %}Priority {{ issue.priority }}.{% endif %}
{% if attempt %}This is attempt {{ attempt }}; pick up where the last one stopped.{% else %}First attempt.{% endif %}
{% for blocker in issue.blocked_by %}Blocked by {{ blocker.identifier }}.{% endfor %}
Description:
{{ issue.description }}
{{ issue.url }}"#;
    let out = render(template, None).unwrap();
    assert_eq!(
        out,
        "You are working on acme/app#12: Crash on start\n\
         State: open. Labels: baton, bug.\n\n\
         First attempt.\n\n\
         Description:\n\
         It crashes when HOME is unset.\n\
         https://github.com/acme/app/issues/12"
    );
}

#[test]
fn the_built_in_workflow_template_renders() {
    let workflow = Workflow::development();
    let template = PromptTemplate::from_workflow(&workflow).unwrap();
    let issue = issue();
    let out = template.render(&PromptInput::new(&issue, None)).unwrap();
    assert!(
        out.starts_with("You are working on acme/app#12: Crash on start"),
        "{out}"
    );
    assert!(out.contains("It crashes when HOME is unset."), "{out}");
}

#[test]
fn an_empty_body_renders_the_default_prompt() {
    let workflow = Workflow::parse("---\ntracker:\n  kind: github\n---\n  \n").unwrap();
    let template = PromptTemplate::from_workflow(&workflow).unwrap();
    let issue = issue();
    assert_eq!(
        template.render(&PromptInput::new(&issue, None)).unwrap(),
        DEFAULT_PROMPT
    );
}

#[test]
fn attempt_is_nil_on_the_first_run_and_a_number_after() {
    let template =
        "{% if attempt == nil %}first{% else %}attempt {{ attempt | plus: 0 }}{% endif %}";
    assert_eq!(render(template, None).unwrap(), "first");
    assert_eq!(render(template, Some(3)).unwrap(), "attempt 3");
    assert_eq!(render("[{{ attempt }}]", None).unwrap(), "[]");
    assert_eq!(render("[{{ attempt }}]", Some(2)).unwrap(), "[2]");
}

#[test]
fn all_issue_fields_are_available() {
    let template = "{{ issue.id }}|{{ issue.identifier }}|{{ issue.title }}|{{ issue.body }}|\
                    {{ issue.state }}|{{ issue.labels.size }}|{{ issue.labels.first }}|\
                    {{ issue.url }}|{{ issue.repository }}|{{ issue.author }}";
    assert_eq!(
        render(template, None).unwrap(),
        "I_kw123|acme/app#12|Crash on start|It crashes when HOME is unset.|open|2|baton|\
         https://github.com/acme/app/issues/12|acme/app|octocat"
    );
    // Absent optional fields are nil, not unknown.
    let issue = IssueSnapshot::default();
    let template = PromptTemplate::parse("[{{ issue.url }}{{ issue.author }}]").unwrap();
    assert_eq!(
        template.render(&PromptInput::new(&issue, None)).unwrap(),
        "[]"
    );
}

#[test]
fn repo_and_workflow_variables() {
    let repo = RepoConfig {
        source: Some(RepoSource::Remote("https://github.com/acme/app.git".into())),
        ..RepoConfig::default()
    };
    let issue = IssueSnapshot {
        identifier: "ENG-42".into(),
        ..issue()
    };
    let template = PromptTemplate::parse(
        "{{ repo.url }} {{ repo.base_branch }} {{ repo.work_branch }} {{ issue.branch_name }} \
         [{{ workflow.profile }}]",
    )
    .unwrap();
    let input = PromptInput::new(&issue, None).with_repo(RepoVars::from_config(&repo, "ENG-42"));
    assert_eq!(
        template.render(&input).unwrap(),
        "https://github.com/acme/app.git main baton/ENG-42 baton/ENG-42 []"
    );
    // Without repo settings every repo field is nil, still known.
    assert_eq!(
        template.render(&PromptInput::new(&issue, None)).unwrap(),
        "    []"
    );
}

#[test]
fn an_unknown_field_fails_the_render() {
    let err = render("Hello {{ issue.nope }}", None).unwrap_err();
    assert!(matches!(err, PromptError::TemplateRender(_)), "{err:?}");
    assert_eq!(err.code(), "template_render_error");
    assert!(
        err.to_string().starts_with("template_render_error: "),
        "{err}"
    );
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn an_unknown_variable_fails_the_render() {
    for template in [
        "{{ nope }}",
        "{{ isue.title }}",
        "{% if nope %}x{% endif %}",
        "{% if issue.nope %}x{% endif %}",
        "{%- unless issue.title and isue.state -%}x{% endunless %}",
        "{% if attempt %}{% elsif nope == 1 %}{% endif %}",
        "{% for l in issue.nope %}{{ l }}{% endfor %}",
        "{{ issue.title | append: nope }}",
    ] {
        let err = render(template, None).unwrap_err();
        assert_eq!(err.code(), "template_render_error", "{template}: {err}");
    }
}

#[test]
fn conditions_on_known_and_template_defined_names_render() {
    let template = r#"{% assign shout = issue.title | upcase %}{% capture tag %}[{{ issue.state }}]{% endcapture %}
{%- if shout contains "CRASH" and tag != "" and issue.labels.size > 1 -%}a{%- endif -%}
{%- for label in issue.labels -%}{% if label == "bug" and forloop.last %}b{% endif %}{%- endfor -%}
{%- if issue.title == "if nope" or attempt == nil %}c{% endif -%}
{%- unless repo.url %}d{% endunless -%}
{%- if workflow.profile == nil %}e{% endif -%}
{% raw %}{% if nope %}{% endraw %}{% comment %}{% if nope %}{% endif %}{% endcomment %}"#;
    assert_eq!(render(template, None).unwrap(), "abcde{% if nope %}");
}

#[test]
fn an_unknown_filter_fails() {
    let err = render("{{ issue.title | nofilter }}", None).unwrap_err();
    assert_eq!(err.code(), "template_parse_error", "{err}");
    assert!(
        err.to_string().contains("nofilter") || err.to_string().contains("filter"),
        "{err}"
    );
    let err = render("{{ x | nofilter }}", None).unwrap_err();
    assert!(matches!(err, PromptError::TemplateParse(_)), "{err:?}");
}

#[test]
fn bad_syntax_fails_the_parse() {
    for template in [
        "{{ issue.title ",
        "{% if attempt %}never closed",
        "{% nosuchtag %}",
    ] {
        let err = PromptTemplate::parse(template).unwrap_err();
        assert_eq!(err.code(), "template_parse_error", "{template}: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
}

#[test]
fn one_parse_renders_many_times() {
    let template = PromptTemplate::parse("{{ issue.identifier }}#{{ attempt }}").unwrap();
    let issue = issue();
    for attempt in 1..=3 {
        assert_eq!(
            template
                .render(&PromptInput::new(&issue, Some(attempt)))
                .unwrap(),
            format!("acme/app#12#{attempt}")
        );
    }
}
