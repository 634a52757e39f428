//! Holds `support/permissions.rs` to the code: the AWS actions listed for each port call are
//! the SDK operations the adapters make for it, and every component calls only port methods
//! it is granted. (The template is held to the table by `template_iam.rs`.)

mod support;

use std::collections::{BTreeMap, BTreeSet};
use support::permissions::{Component, Grant, PortCall, Resource};
use support::rust_source::{
    block_after, calls, functions, is_test_file, production_code, read, rust_files, workspace_root,
};

/// The adapter sources, relative to the workspace root: every file of `aws/src`, so a new
/// one cannot escape the check.
fn adapter_files() -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root).expect("inside the workspace");
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let root = support::rust_source::workspace_root();
    let mut files = Vec::new();
    walk(&root.join("aws/src"), &root, &mut files);
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("sqs.rs")), "{files:?}");
    files
}

/// The SDK's fluent method for each operation the adapters could call, with its IAM action.
const SDK_OPERATIONS: [(&str, &str); 29] = [
    ("get_item", "dynamodb:GetItem"),
    ("put_item", "dynamodb:PutItem"),
    ("update_item", "dynamodb:UpdateItem"),
    ("delete_item", "dynamodb:DeleteItem"),
    ("query", "dynamodb:Query"),
    ("scan", "dynamodb:Scan"),
    ("batch_get_item", "dynamodb:BatchGetItem"),
    ("batch_write_item", "dynamodb:BatchWriteItem"),
    ("transact_get_items", "dynamodb:GetItem"),
    ("transact_write_items", "dynamodb:PutItem"),
    ("describe_table", "dynamodb:DescribeTable"),
    ("create_table", "dynamodb:CreateTable"),
    ("update_table", "dynamodb:UpdateTable"),
    ("delete_table", "dynamodb:DeleteTable"),
    ("describe_time_to_live", "dynamodb:DescribeTimeToLive"),
    ("update_time_to_live", "dynamodb:UpdateTimeToLive"),
    (
        "update_continuous_backups",
        "dynamodb:UpdateContinuousBackups",
    ),
    ("get_queue_url", "sqs:GetQueueUrl"),
    ("send_message", "sqs:SendMessage"),
    ("send_message_batch", "sqs:SendMessage"),
    ("receive_message", "sqs:ReceiveMessage"),
    ("delete_message", "sqs:DeleteMessage"),
    ("delete_message_batch", "sqs:DeleteMessage"),
    ("change_message_visibility", "sqs:ChangeMessageVisibility"),
    (
        "change_message_visibility_batch",
        "sqs:ChangeMessageVisibility",
    ),
    ("get_queue_attributes", "sqs:GetQueueAttributes"),
    ("set_queue_attributes", "sqs:SetQueueAttributes"),
    ("create_queue", "sqs:CreateQueue"),
    ("purge_queue", "sqs:PurgeQueue"),
];

fn sdk_action(method: &str) -> Option<&'static str> {
    SDK_OPERATIONS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, action)| *action)
}

/// The adapters' code: the helper functions by name, and the entry points of each port
/// call (the `Store`/`Queue` implementations, and `open`).
struct Adapters {
    helpers: BTreeMap<String, Vec<String>>,
    entries: BTreeMap<(bool, String), String>,
    all_code: String,
}

impl Adapters {
    fn load() -> Self {
        let mut helpers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut entries = BTreeMap::new();
        let mut all_code = String::new();
        for file in adapter_files() {
            let code = production_code(&read(&file));
            let store_impl = block_after(&code, "impl Store for DynamoStore");
            let queue_impl = block_after(&code, "impl Queue for SqsQueue");
            for (is_queue, block) in [(false, store_impl), (true, queue_impl)] {
                for (name, body) in block.map(functions).unwrap_or_default() {
                    entries.insert((is_queue, name), body);
                }
            }
            let mut rest = code.clone();
            for block in [store_impl, queue_impl].into_iter().flatten() {
                rest = rest.replace(block, "");
            }
            for (name, body) in functions(&rest) {
                if name == "open" && file.ends_with("backends.rs") {
                    entries.insert((false, name.clone()), body.clone());
                }
                helpers.entry(name).or_default().push(body);
            }
            all_code.push_str(&code);
        }
        Self {
            helpers,
            entries,
            all_code,
        }
    }

    fn entry(&self, call: PortCall) -> &str {
        self.entries
            .get(&(call.is_queue(), call.method().to_owned()))
            .unwrap_or_else(|| panic!("no adapter function `{}` found", call.method()))
    }

    /// The grants a body needs, following calls into the adapters' helper functions.
    fn derive(&self, entry: &str) -> BTreeSet<Grant> {
        self.derive_with_actions(entry).0
    }

    /// The grants, and every action made (also those on a queue not looked up by name, as
    /// when `setup` creates the queues).
    fn derive_with_actions(&self, entry: &str) -> (BTreeSet<Grant>, BTreeSet<&'static str>) {
        let mut grants = BTreeSet::new();
        let mut queues = BTreeSet::new();
        let mut sqs_actions = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut pending = vec![entry.to_owned()];
        while let Some(body) = pending.pop() {
            let found = calls(&body);
            let queries_index = found.iter().any(|c| c.method && c.name == "index_name");
            for call in found {
                // `self.queue_url()` is the adapter's lookup; `.queue_url(url)` on a request
                // builder is the SDK's setter, and so on for every name: only free calls and
                // calls on the adapters themselves lead into their code.
                let own = !call.method
                    || ["self", "store", "queue"]
                        .iter()
                        .any(|name| call.receiver.ends_with(name));
                match call.name.as_str() {
                    "queue_url" | "check_queue_url" if own => {
                        queues.insert(Resource::JobsQueue);
                    }
                    "dead_letter_queue_url" if own => {
                        queues.insert(Resource::DeadLetterQueue);
                    }
                    _ => {}
                }
                // `store.create_table()` is the adapter's own function of that name.
                let helper = own && self.helpers.contains_key(&call.name);
                if call.method && !helper {
                    if let Some(action) = sdk_action(&call.name) {
                        if action.starts_with("sqs:") {
                            sqs_actions.insert(action);
                        } else {
                            let resource = if action == "dynamodb:Query" && queries_index {
                                Resource::StatusIndex
                            } else {
                                Resource::Table
                            };
                            grants.insert(Grant { action, resource });
                        }
                        continue;
                    }
                }
                // `send` is the SDK's request sender, never a helper.
                if !own || call.name == "send" || !seen.insert(call.name.clone()) {
                    continue;
                }
                if let Some(bodies) = self.helpers.get(&call.name) {
                    pending.extend(bodies.iter().cloned());
                }
            }
        }
        let mut actions: BTreeSet<&'static str> = grants.iter().map(|g| g.action).collect();
        for &action in &sqs_actions {
            actions.insert(action);
            for &resource in &queues {
                grants.insert(Grant { action, resource });
            }
        }
        (grants, actions)
    }
}

fn show(grants: &BTreeSet<Grant>) -> String {
    grants
        .iter()
        .map(Grant::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn permissions_match_adapters() {
    let adapters = Adapters::load();
    let mut mismatches = Vec::new();
    let mut reached = BTreeSet::new();
    for call in PortCall::ALL {
        let derived = adapters.derive(adapters.entry(call));
        let listed: BTreeSet<Grant> = call.grants().iter().copied().collect();
        if derived != listed {
            mismatches.push(format!(
                "{}: the adapters make [{}], the table lists [{}]",
                call.method(),
                show(&derived),
                show(&listed)
            ));
        }
        reached.extend(derived.into_iter().map(|grant| grant.action));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // Every SDK call in the adapters serves a port call, or setting up (`setup`).
    let setup = adapters
        .helpers
        .get("setup")
        .and_then(|bodies| bodies.first())
        .expect("baton_aws::setup");
    reached.extend(adapters.derive_with_actions(setup).1);
    let made: BTreeSet<&str> = calls(&adapters.all_code)
        .into_iter()
        .filter(|call| call.method)
        .filter_map(|call| sdk_action(&call.name))
        .collect();
    let unexplained: Vec<_> = made.difference(&reached).collect();
    assert!(
        unexplained.is_empty(),
        "the adapters make {unexplained:?} outside every port call and setup"
    );
}

#[test]
fn the_derivation_sees_helpers_and_resources() {
    // The derivation is what the test above trusts: check it on known shapes.
    let adapters = Adapters::load();
    let begin = adapters.derive(adapters.entry(PortCall::BeginDelivery));
    assert!(begin.contains(&Grant {
        action: "dynamodb:GetItem",
        resource: Resource::Table
    }));
    let depth = adapters.derive(adapters.entry(PortCall::DeadLetterCount));
    assert!(depth.contains(&Grant {
        action: "sqs:GetQueueAttributes",
        resource: Resource::DeadLetterQueue
    }));
    assert!(!depth.iter().any(|g| g.resource == Resource::JobsQueue));
    let listing = adapters.derive(adapters.entry(PortCall::ListWorkItems));
    assert_eq!(
        listing.into_iter().collect::<Vec<_>>(),
        vec![Grant {
            action: "dynamodb:Query",
            resource: Resource::StatusIndex
        }]
    );
}

/// Where each component's code lives, relative to the workspace root.
fn component_dirs(component: Component) -> &'static [&'static str] {
    match component {
        Component::Ingress => &[
            "core/src/ingress",
            "web/src/ingress",
            "functions/ingress/src",
        ],
        Component::Api => &["web/src/api", "web/src/dashboard", "functions/api/src"],
        Component::Reconciler => &[
            "core/src/reconciler",
            "functions/reconciler/src",
            "integrations/src/wiring",
        ],
        Component::Runner => &["runner/src", "src/runner.rs"],
    }
}

/// Production code that calls the ports but is no deployed component: the in-memory
/// adapters and their contract tests, and the local-only commands.
const NOT_DEPLOYED: [&str; 5] = [
    "core/src/memory",
    "core/src/contract",
    "src/dev.rs",
    "src/demo.rs",
    "src/backend.rs",
];

/// The port calls in one file's production code. Methods with names of their own are
/// found by name; `send`, `receive` and `delete` only on a receiver named `queue`.
fn port_calls_in(code: &str) -> BTreeSet<PortCall> {
    let mut found = BTreeSet::new();
    for call in calls(code) {
        if call.name == "open"
            && (call.receiver.ends_with("baton_aws::") || call.receiver.ends_with("backend::"))
        {
            found.insert(PortCall::Open);
            continue;
        }
        if !call.method {
            continue;
        }
        let generic = matches!(call.name.as_str(), "send" | "receive" | "delete");
        let on_queue = call.receiver.ends_with("queue") || call.receiver.ends_with("queue()");
        if generic && !on_queue {
            continue;
        }
        if let Some(port) = PortCall::ALL
            .into_iter()
            .find(|port| port.method() == call.name && port != &PortCall::Open)
        {
            found.insert(port);
        }
    }
    found
}

fn files_under(relative: &str) -> Vec<std::path::PathBuf> {
    let path = workspace_root().join(relative);
    if path.is_file() {
        vec![path]
    } else {
        rust_files(&path)
    }
    .into_iter()
    .filter(|file| !is_test_file(file))
    .collect()
}

#[test]
fn permissions_match_components() {
    let root = workspace_root();
    let mut problems = Vec::new();
    let mut assigned = BTreeSet::new();
    for component in Component::ALL {
        let granted: BTreeSet<PortCall> = component.calls().iter().copied().collect();
        let mut used = BTreeSet::new();
        for dir in component_dirs(component) {
            for file in files_under(dir) {
                let code = production_code(&std::fs::read_to_string(&file).unwrap_or_default());
                for call in port_calls_in(&code) {
                    used.insert(call);
                    if !granted.contains(&call) {
                        problems.push(format!(
                            "{}: {} calls `{}`, which the {} is not granted",
                            component.name(),
                            file.strip_prefix(&root).unwrap_or(&file).display(),
                            call.method(),
                            component.name()
                        ));
                    }
                }
                assigned.insert(file);
            }
        }
        // A component that is found to call nothing means the scan is broken.
        assert!(
            used.len() >= 3,
            "{}: the scan found only {used:?}",
            component.name()
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Port calls anywhere else in production code belong to no component's role.
    let excluded: Vec<_> = NOT_DEPLOYED.iter().map(|p| root.join(p)).collect();
    for dir in [
        "core/src",
        "runner/src",
        "src",
        "functions",
        "integrations/src",
    ] {
        for file in files_under(dir) {
            if assigned.contains(&file) || excluded.iter().any(|p| file.starts_with(p)) {
                continue;
            }
            let code = production_code(&std::fs::read_to_string(&file).unwrap_or_default());
            let found = port_calls_in(&code);
            assert!(
                found.is_empty(),
                "{} calls {:?} but belongs to no component in `component_dirs`",
                file.strip_prefix(&root).unwrap_or(&file).display(),
                found
            );
        }
    }
}
