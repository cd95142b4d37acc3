# JupyterLab with coderops' coder_jupyter extension in a Coder workspace, exposed through Coder's app proxy.
# Modelled on Coder's own jupyterlab registry module (same port, health check, subdomain and sharing), plus:
# a virtualenv of its own with coder_jupyter installed and enabled, and the workspace owner's Coder URL and
# session token handed to JupyterLab, so the widgets and /coder/api routes work without `coder login`.
terraform {
  required_version = ">= 1.0"
  required_providers {
    coder = {
      source  = "coder/coder"
      version = ">= 2.5"
    }
  }
}

data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

variable "agent_id" {
  type        = string
  description = "The ID of the Coder agent to run JupyterLab on (e.g. coder_agent.main.id)."
}

variable "port" {
  type        = number
  description = "Port JupyterLab listens on, on 127.0.0.1 only: Coder's proxy is the way in."
  default     = 19999
}

variable "subdomain" {
  type        = bool
  description = "Serve JupyterLab on its own subdomain (needs a wildcard access URL) rather than under /@owner/workspace/apps/jupyterlab."
  default     = true
}

variable "share" {
  type        = string
  description = "Who may open the app: owner, authenticated or public."
  default     = "owner"
  validation {
    condition     = contains(["owner", "authenticated", "public"], var.share)
    error_message = "share must be one of owner, authenticated, public."
  }
}

variable "coder_jupyter_requirements" {
  type        = list(string)
  description = "pip requirements that install coder_jupyter (and coder_client), e.g. wheel URLs from your artifact store."
  default     = ["coder-jupyter"]
}

variable "jupyterlab_requirement" {
  type        = string
  description = "pip requirement for JupyterLab itself."
  default     = "jupyterlab>=4.2,<5"
}

variable "pip_extra_args" {
  type        = string
  description = "Extra arguments for the installer, e.g. \"--index-url https://pypi.internal/simple\"."
  default     = ""
}

variable "venv_dir" {
  type        = string
  description = "Where JupyterLab and coder_jupyter are installed (a virtualenv of their own)."
  default     = "$HOME/.local/share/coderops/jupyterlab"
}

variable "log_path" {
  type        = string
  description = "JupyterLab's log file."
  default     = "/tmp/jupyterlab.log"
}

variable "pass_session_token" {
  type        = bool
  description = "Give JupyterLab (and its kernels) the owner's Coder session token, renewed at every start."
  default     = true
}

variable "order" {
  type        = number
  description = "Position of the app among the workspace's apps."
  default     = null
}

variable "group" {
  type        = string
  description = "App group to show JupyterLab in."
  default     = null
}

locals {
  slug     = "jupyterlab"
  base_url = var.subdomain ? "" : "/@${data.coder_workspace_owner.me.name}/${data.coder_workspace.me.name}/apps/${local.slug}"
  # Each requirement single-quoted for the shell, so version specifiers like >=4.2 stay one argument.
  quoted_requirements = join(" ", [for requirement in concat([var.jupyterlab_requirement], var.coder_jupyter_requirements) : "'${replace(requirement, "'", "'\\''")}'"])
}

resource "coder_script" "jupyterlab" {
  agent_id     = var.agent_id
  display_name = "JupyterLab (coderops)"
  icon         = "/icon/jupyter.svg"
  run_on_start = true
  script = templatefile("${path.module}/run.sh", {
    PORT           = var.port
    LOG_PATH       = var.log_path
    BASE_URL       = local.base_url
    VENV_DIR       = var.venv_dir
    REQUIREMENTS   = local.quoted_requirements
    PIP_EXTRA_ARGS = var.pip_extra_args
    CODER_URL      = data.coder_workspace.me.access_url
    SESSION_TOKEN  = var.pass_session_token ? data.coder_workspace_owner.me.session_token : ""
  })
}

resource "coder_app" "jupyterlab" {
  agent_id     = var.agent_id
  slug         = local.slug
  display_name = "JupyterLab"
  url          = "http://127.0.0.1:${var.port}${local.base_url}"
  icon         = "/icon/jupyter.svg"
  subdomain    = var.subdomain
  share        = var.share
  order        = var.order
  group        = var.group

  healthcheck {
    url       = "http://127.0.0.1:${var.port}${local.base_url}/api"
    interval  = 5
    threshold = 6
  }
}
