"""The seed data every sim starts with: the organization ``coder``, three users and seven templates.

Each template is a scenario the demo and the tests rely on (a clean start, a failing startup script,
a startup timeout, a failing build, an admin-fixed schedule, a max deadline); the README's "Demo
state" tables describe them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .clock import SimClock
from .dynamic import gpu_lab
from .ids import IdSource
from .model import (
    AgentScript,
    Behaviour,
    Organization,
    Parameter,
    ParameterOption,
    Preset,
    StartupLine,
    Template,
    User,
)
from .prebuilds import preset_id
from .store import Store

ORGANIZATION_NAME = "coder"
DEMO_USERS = (
    # username, email, display name, owner?
    ("admin", "admin@example.com", "Ada Admin", True),
    ("alice", "alice@example.com", "Alice Liddell", False),
    ("bob", "bob@example.com", "Bob Builder", False),
)

PYTHON_DS_LINES = (
    StartupLine(0.4, "Cloning git@github.com:example/analysis.git into ~/project"),
    StartupLine(0.8, "Creating virtualenv with Python 3.11"),
    StartupLine(1.2, "Installing pandas, numpy, scikit-learn, jupyterlab"),
    StartupLine(1.4, "Successfully installed 42 packages"),
    StartupLine(0.8, "Starting JupyterLab on 127.0.0.1:19999"),
    StartupLine(0.4, "JupyterLab is ready"),
)
BROKEN_LINES = (
    StartupLine(0.4, "Installing requirements from requirements.txt"),
    StartupLine(
        0.8, "ERROR: Could not find a version that satisfies the requirement tensorflow==1.0.0", "error"
    ),
    StartupLine(0.3, "ERROR: No matching distribution found for tensorflow==1.0.0", "error"),
    StartupLine(0.2, "startup script exited with code 1", "error"),
)
SLOW_LINES = (
    StartupLine(0.5, "Downloading the 40 GB training dataset from s3://example-data/imagenet"),
    StartupLine(2.0, "Downloaded 1.2 GB of 40 GB (3%)", "warn"),
    StartupLine(2.0, "Downloaded 2.3 GB of 40 GB (5%)", "warn"),
)
EVERY_DAY = timedelta(hours=8)
# Named startup scripts over the lines above (build timings report each one's duration and exit code).
PYTHON_DS_SCRIPTS = (
    AgentScript("Clone project", 1),
    AgentScript("Install Python packages", 3),
    AgentScript("Start JupyterLab", 2),
)
BROKEN_SCRIPTS = (AgentScript("Install requirements", 4, exit_code=1),)
SLOW_SCRIPTS = (AgentScript("Download training data", 3),)
JUPYTER_ONLY_SCRIPTS = (AgentScript("Start JupyterLab", 2),)


def python_ds_parameters() -> list[Parameter]:
    return [
        Parameter(
            name="project_name",
            type="string",
            display_name="Project name",
            description="Used for the project folder and the git branch. Cannot be changed later.",
            required=True,
            mutable=False,
            validation_regex="^[a-z][a-z0-9-]{2,30}$",
            validation_error="Use 3 to 31 lowercase letters, digits or dashes, starting with a letter.",
        ),
        Parameter(
            name="region",
            type="string",
            display_name="Region",
            description="Where the workspace runs. Cannot be changed later.",
            default_value="eu-west",
            mutable=False,
            options=[
                ParameterOption("Europe (Frankfurt)", "eu-west"),
                ParameterOption("US East (Virginia)", "us-east"),
                ParameterOption("Asia Pacific (Mumbai)", "ap-south"),
            ],
        ),
        Parameter(
            name="cpu",
            type="number",
            display_name="CPU cores",
            default_value="4",
            options=[
                ParameterOption("2 cores", "2"),
                ParameterOption("4 cores", "4"),
                ParameterOption("8 cores", "8"),
            ],
        ),
        Parameter(
            name="memory_gb",
            type="number",
            display_name="Memory (GB)",
            description="Can only grow.",
            default_value="16",
            validation_min=4,
            validation_max=64,
            validation_monotonic="increasing",
        ),
        Parameter(name="gpu", type="bool", display_name="GPU", default_value="false"),
        Parameter(
            name="extensions",
            type="list(string)",
            display_name="VS Code extensions",
            default_value='["ms-python.python","ms-toolsai.jupyter"]',
        ),
        Parameter(name="dotfiles_uri", type="string", display_name="Dotfiles repository", default_value=""),
    ]


def _templates(org: Organization, admin: User, ids: IdSource, clock: SimClock) -> list[Template]:
    now = clock.now()

    def make(
        name: str,
        display_name: str,
        description: str,
        behaviour: Behaviour,
        parameters: list[Parameter] | None = None,
        **policy: Any,
    ) -> Template:
        return Template(
            id=ids.uuid(),
            name=name,
            display_name=display_name,
            description=description,
            icon=f"/icon/{name}.svg",
            organization_id=org.id,
            active_version_id=ids.uuid(),
            active_version_name="v1",
            created_at=now,
            created_by_id=admin.id,
            created_by_name=admin.username,
            parameters=parameters or [],
            behaviour=behaviour,
            troubleshooting_url=f"https://docs.example.com/templates/{name}",
            **policy,
        )

    return [
        make(
            "python-ds",
            "Python data science",
            "Python 3.11, JupyterLab and the usual data stack.",
            Behaviour(startup_lines=PYTHON_DS_LINES, scripts=PYTHON_DS_SCRIPTS, outcome="ready"),
            parameters=python_ds_parameters(),
        ),
        make(
            "broken-startup",
            "Broken startup",
            "Builds fine, but its startup script exits non-zero (start_error).",
            Behaviour(
                build_seconds=3.0,
                connect_seconds=1.0,
                startup_lines=BROKEN_LINES,
                scripts=BROKEN_SCRIPTS,
                outcome="start_error",
            ),
        ),
        make(
            "slow-start",
            "Slow start",
            "Its startup script outlives the 8 s startup timeout (start_timeout).",
            Behaviour(
                build_seconds=3.0,
                connect_seconds=1.0,
                startup_lines=SLOW_LINES,
                scripts=SLOW_SCRIPTS,
                outcome="start_timeout",
                startup_timeout_seconds=8,
            ),
        ),
        make(
            "failing-build",
            "Failing build",
            "The provisioner job fails: no agent ever starts.",
            Behaviour(
                build_seconds=3.0,
                build_error=(
                    'terraform apply: error creating instance: quota "GPUS_ALL_REGIONS" exceeded. Limit: 0.0'
                ),
            ),
        ),
        make(
            "no-user-autostop",
            "Fixed schedule",
            "Admins set the schedule: users may not change autostop (ttl) or autostart.",
            Behaviour(startup_lines=PYTHON_DS_LINES[-2:], scripts=JUPYTER_ONLY_SCRIPTS),
            allow_user_autostop=False,
            allow_user_autostart=False,
            allow_user_cancel_workspace_jobs=False,
        ),
        make(
            "max-deadline",
            "Max 12 hours",
            "Workspaces stop at the latest 12 hours after they start (max_deadline).",
            Behaviour(startup_lines=PYTHON_DS_LINES[-2:], scripts=JUPYTER_ONLY_SCRIPTS),
            max_ttl_ms=12 * 3600 * 1000,
        ),
        # dynamic parameters (v2): gpu=true reveals gpu_type; region eu refuses instance_size=xl. Its rich
        # parameters (what an older Coder, or the classic flow, shows) are the form for no inputs.
        make(
            "gpu-lab",
            "GPU lab",
            "Dynamic parameters: the form changes with the region and the GPU choice.",
            Behaviour(startup_lines=PYTHON_DS_LINES[-2:]),
            parameters=gpu_lab({}).parameters,
            dynamic=gpu_lab,
        ),
    ]


def seed_demo(store: Store, ids: IdSource, clock: SimClock, admin_token: str | None = None) -> None:
    """Put the demo organization, users and templates into an empty ``store``."""
    created = clock.now() - timedelta(days=30)
    org = Organization(id=ids.uuid(), name=ORGANIZATION_NAME, display_name="Coder", created_at=created)
    store.organizations[org.id] = org
    for username, email, name, is_owner in DEMO_USERS:
        token = ids.api_key()
        if is_owner and admin_token:
            token = admin_token
        store.add_user(
            User(
                id=ids.uuid(),
                username=username,
                email=email,
                name=name,
                is_owner=is_owner,
                created_at=created,
                token=token,
            )
        )
    admin = store.user_by_name("admin")
    assert admin is not None
    for template in _templates(org, admin, ids, clock):
        template.presets = _presets(template)
        store.templates[template.id] = template


def _presets(template: Template) -> list[Preset]:
    """python-ds has two presets; "Standard" keeps 2 prebuilt workspaces ready (when the pool is on).
    gpu-lab (dynamic parameters) has one that sets a field only its own answers reveal (gpu_type)."""
    if template.name == "gpu-lab":
        return [
            Preset(
                id=preset_id(template.id, "EU GPU"),
                name="EU GPU",
                description="An A100 in Europe.",
                parameters={"region": "eu", "gpu": "true", "gpu_type": "a100"},
            )
        ]
    if template.name != "python-ds":
        return []
    return [
        Preset(
            id=preset_id(template.id, "Standard"),
            name="Standard",
            description="4 cores, 16 GB in Frankfurt; a prebuilt workspace is usually ready.",
            parameters={"region": "eu-west", "cpu": "4", "memory_gb": "16", "gpu": "false"},
            default=True,
            desired_instances=2,
        ),
        Preset(
            id=preset_id(template.id, "GPU"),
            name="GPU",
            description="8 cores, 32 GB and a GPU in Virginia.",
            parameters={"region": "us-east", "cpu": "8", "memory_gb": "32", "gpu": "true"},
        ),
    ]
