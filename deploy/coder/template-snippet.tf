# Add JupyterLab with coder_jupyter to an existing Coder template: copy deploy/coder/jupyterlab-coderops next
# to your template's main.tf and add this block (it needs the template's agent, here coder_agent.main).
# The workspace image needs python3 >= 3.11 (and uv or the venv module). Set coder_jupyter_requirements to
# where your coderops wheels live, e.g. ["https://artifacts.example.com/coderops/coder_client-0.1.0-py3-none-any.whl", ...].
module "coderops_jupyterlab" {
  count    = data.coder_workspace.me.start_count
  source   = "./jupyterlab-coderops"
  agent_id = coder_agent.main.id

  # Optional, with their defaults:
  # port                       = 19999
  # subdomain                  = true
  # share                      = "owner"
  # coder_jupyter_requirements = ["coder-jupyter"]
  # pip_extra_args             = ""
  # pass_session_token         = true
}
