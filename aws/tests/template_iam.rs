//! `infra/template.yaml` grants each component exactly what `support/permissions.rs` says it
//! needs: the same actions, on the same table, index and queues, and nothing else — no `*`
//! action, no `*` resource except the one AWS requires (`ecr:GetAuthorizationToken`), no
//! AWS-managed policies.

mod support;

use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;
use std::path::Path;
use support::permissions::{Component, Grant, Resource};

/// The role (and, for the runner, the policies attached to it) of each component.
fn role_of(component: Component) -> &'static str {
    match component {
        Component::Ingress => "IngressRole",
        Component::Api => "ApiRole",
        Component::Reconciler => "ReconcilerRole",
        Component::Runner => "RunnerTaskRole",
    }
}

/// The function whose role is `role_of`, and its own log group.
fn log_group_of(component: Component) -> &'static str {
    match component {
        Component::Ingress => "IngressLogGroup",
        Component::Api => "ApiLogGroup",
        Component::Reconciler => "ReconcilerLogGroup",
        Component::Runner => "RunnerLogGroup",
    }
}

fn template() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

fn resources(template: &Value) -> &Mapping {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .expect("the template has Resources")
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    resources(template)
        .get(name)
        .unwrap_or_else(|| panic!("the template has no resource {name}"))
}

fn tagged<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

/// What a statement's resource is, in the terms of the permissions table; `Err` with the
/// resource written out for anything else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Baton(Resource),
    LogGroup(String),
    Other(String),
}

fn target(value: &Value) -> Target {
    if let Some(Value::String(att)) = tagged(value, "!GetAtt") {
        return match att.as_str() {
            "Table.Arn" => Target::Baton(Resource::Table),
            "JobsQueue.Arn" => Target::Baton(Resource::JobsQueue),
            "DeadLetterQueue.Arn" => Target::Baton(Resource::DeadLetterQueue),
            other => match other.strip_suffix(".Arn") {
                Some(group) if group.ends_with("LogGroup") => Target::LogGroup(group.to_owned()),
                _ => Target::Other(format!("!GetAtt {other}")),
            },
        };
    }
    if let Some(Value::String(sub)) = tagged(value, "!Sub") {
        if sub == "${Table.Arn}/index/gsi1" {
            return Target::Baton(Resource::StatusIndex);
        }
        return Target::Other(format!("!Sub {sub}"));
    }
    Target::Other(format!("{value:?}"))
}

fn strings(value: &Value) -> Vec<Value> {
    match value {
        Value::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Every (action, target) an Allow statement of these policy documents grants. Statements
/// behind `!If` count with their condition true (the widest the role can get).
fn granted(documents: &[&Value]) -> BTreeSet<(String, Target)> {
    let mut found = BTreeSet::new();
    for document in documents {
        let statements = document
            .get("Statement")
            .and_then(Value::as_sequence)
            .expect("a policy document has a Statement list");
        for statement in statements {
            let statement = match tagged(statement, "!If") {
                Some(Value::Sequence(branches)) => &branches[1],
                _ => statement,
            };
            assert_eq!(
                statement.get("Effect").and_then(Value::as_str),
                Some("Allow"),
                "only Allow statements are expected: {statement:?}"
            );
            assert!(
                statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                "NotAction/NotResource grant everything else: {statement:?}"
            );
            let actions = strings(statement.get("Action").expect("Action"));
            let targets = strings(statement.get("Resource").expect("Resource"));
            for action in actions {
                let action = action.as_str().expect("actions are strings").to_owned();
                assert!(!action.contains('*'), "wildcard action {action}");
                for resource in &targets {
                    let resource = match tagged(resource, "!If") {
                        Some(Value::Sequence(branches)) => branches[1].clone(),
                        _ => resource.clone(),
                    };
                    let target = match resource.as_str() {
                        Some("*") => Target::Other("*".to_owned()),
                        _ => target(&resource),
                    };
                    found.insert((action.clone(), target));
                }
            }
        }
    }
    found
}

/// The policy documents of a role: its inline policies and the template's managed policies
/// it attaches (anything else attached fails the test).
fn role_documents<'a>(template: &'a Value, role: &str) -> Vec<&'a Value> {
    let properties = resource(template, role)
        .get("Properties")
        .expect("a role has Properties");
    let mut documents = Vec::new();
    for policy in properties
        .get("Policies")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        documents.push(policy.get("PolicyDocument").expect("PolicyDocument"));
    }
    for arn in properties
        .get("ManagedPolicyArns")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let Some(Value::String(name)) = tagged(arn, "!Ref") else {
            panic!("{role} attaches a policy from outside the template: {arn:?}");
        };
        let policy = resource(template, name);
        assert_eq!(
            policy.get("Type").and_then(Value::as_str),
            Some("AWS::IAM::ManagedPolicy")
        );
        documents.push(
            policy
                .get("Properties")
                .and_then(|p| p.get("PolicyDocument"))
                .expect("PolicyDocument"),
        );
    }
    documents
}

/// The runner's read of an agent account credential, scoped to `AgentSecretsPrefix`.
fn agent_secret(action: &str, arn: &str) -> bool {
    match action {
        "secretsmanager:GetSecretValue" => arn.ends_with(":secret:${AgentSecretsPrefix}*"),
        "ssm:GetParameter" => arn.ends_with(":parameter/${AgentSecretsPrefix}*"),
        _ => false,
    }
}

#[test]
fn template_grants_match_permissions() {
    let template = template();
    let mut problems = Vec::new();
    for component in Component::ALL {
        let role = role_of(component);
        let granted = granted(&role_documents(&template, role));
        let mut baton = BTreeSet::new();
        for (action, target) in &granted {
            match target {
                Target::Baton(resource) => {
                    baton.insert(format!("{action} on the {resource}"));
                }
                // A function may write its own logs, and nothing else of CloudWatch Logs.
                Target::LogGroup(group)
                    if group == log_group_of(component)
                        && component != Component::Runner
                        && matches!(
                            action.as_str(),
                            "logs:CreateLogStream" | "logs:PutLogEvents"
                        ) => {}
                // Agent account credentials, only under the prefix the template is given.
                Target::Other(arn)
                    if component == Component::Runner && agent_secret(action, arn) => {}
                other => problems.push(format!("{role} grants {action} on {other:?}")),
            }
        }
        let wanted: BTreeSet<String> = component.grants().iter().map(Grant::to_string).collect();
        for missing in wanted.difference(&baton) {
            problems.push(format!("{role} lacks {missing}"));
        }
        for extra in baton.difference(&wanted) {
            problems.push(format!(
                "{role} grants {extra}, which the {} never uses",
                component.name()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_role_of_the_template_is_checked() {
    // A role added to the template without a row here would escape the check above.
    let template = template();
    let checked: BTreeSet<&str> = Component::ALL
        .into_iter()
        .map(role_of)
        .chain(["RunnerExecutionRole"])
        .collect();
    for (name, value) in resources(&template) {
        if value.get("Type").and_then(Value::as_str) == Some("AWS::IAM::Role") {
            let name = name.as_str().unwrap_or_default();
            assert!(checked.contains(name), "role {name} is not checked");
        }
    }
}

#[test]
fn the_runner_execution_role_only_pulls_logs_and_reads_named_secrets() {
    let template = template();
    let granted = granted(&role_documents(&template, "RunnerExecutionRole"));
    for (action, target) in granted {
        let allowed = match action.as_str() {
            // AWS accepts nothing narrower for this one.
            "ecr:GetAuthorizationToken" => target == Target::Other("*".to_owned()),
            "ecr:BatchCheckLayerAvailability"
            | "ecr:BatchGetImage"
            | "ecr:GetDownloadUrlForLayer" => {
                matches!(&target, Target::Other(sub) if sub.contains(":repository/${RunnerRepositoryName}"))
            }
            "logs:CreateLogStream" | "logs:PutLogEvents" => {
                target == Target::LogGroup("RunnerLogGroup".to_owned())
            }
            // Each secret by the ARN given as a parameter.
            "secretsmanager:GetSecretValue" => {
                matches!(&target, Target::Other(reference) if reference.contains("SecretArn"))
            }
            _ => false,
        };
        assert!(allowed, "RunnerExecutionRole grants {action} on {target:?}");
    }
}

#[test]
fn the_table_and_queues_are_what_the_adapters_expect() {
    // The layout `baton setup` creates (aws/src/dynamo/provision.rs, aws/src/sqs.rs).
    let template = template();
    let table = resource(&template, "Table")
        .get("Properties")
        .expect("Properties");
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"].as_str(), Some("gsi1"));
    assert_eq!(index["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("expires_at")
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    let keys: Vec<_> = table["KeySchema"]
        .as_sequence()
        .expect("KeySchema")
        .iter()
        .map(|key| key["AttributeName"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    let queue = resource(&template, "JobsQueue")
        .get("Properties")
        .expect("Properties");
    let redrive = &queue["RedrivePolicy"];
    assert_eq!(
        redrive["maxReceiveCount"].as_u64(),
        Some(u64::from(baton_core::ports::MAX_RECEIVE_COUNT))
    );
    assert_eq!(
        tagged(&redrive["deadLetterTargetArn"], "!GetAtt").and_then(Value::as_str),
        Some("DeadLetterQueue.Arn")
    );
}

fn workspace_file(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

#[test]
fn the_shipped_workflows_load() {
    // infra/layer/workflows is the functions' layer and the runner image's BATON_WORKFLOW.
    let dir = workspace_file("infra/layer/workflows");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).expect("infra/layer/workflows") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            baton_core::workflow::Workflow::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            loaded += 1;
        }
    }
    assert!(loaded > 0, "no workflow in {}", dir.display());
}

#[test]
fn the_guides_workflows_load() {
    // Every ```markdown block of docs/ that is a whole WORKFLOW.md (front matter first).
    let mut checked = 0;
    for entry in std::fs::read_dir(workspace_file("docs")).expect("docs/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|ext| ext != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a guide");
        for block in text.split("```markdown\n").skip(1) {
            let Some((body, _)) = block.split_once("\n```") else {
                panic!("{}: unclosed block", path.display());
            };
            if !body.starts_with("---\n") {
                continue;
            }
            baton_core::workflow::Workflow::parse(&format!("{body}\n")).unwrap_or_else(|e| {
                panic!("{}: a WORKFLOW.md does not parse: {e}", path.display())
            });
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "expected a WORKFLOW.md per tracker guide, found {checked}"
    );
}
