/**
 * coder-jupyter's JupyterLab extension: the "Coder workspaces" sidebar, its commands, palette and
 * launcher items. Everything goes through the server extension's REST routes, so it works with no
 * kernel and while a kernel is busy.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';

import { coderIcon } from './icon';
import { PANEL_ID, WorkspacesPanel } from './panel';

export const COMMAND_NEW = 'coder:new-workspace';
export const COMMAND_SHOW = 'coder:show-workspaces';
const CATEGORY = 'Coder';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'coder-jupyter:panel',
  description:
    'A sidebar listing your Coder workspaces, live, with actions that need no kernel.',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const panel = new WorkspacesPanel();
    app.shell.add(panel, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }
    panel.connect();

    app.commands.addCommand(COMMAND_SHOW, {
      label: 'Coder: Show workspaces',
      caption: 'Open the Coder workspaces sidebar',
      icon: args => (args.isPalette ? undefined : coderIcon),
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(COMMAND_NEW, {
      label: args =>
        args.isLauncher ? 'New Coder workspace…' : 'Coder: New workspace…',
      caption: 'Create a Coder workspace from a template',
      icon: args => (args.isPalette ? undefined : coderIcon),
      execute: async () => {
        app.shell.activateById(panel.id);
        await panel.openForm();
      }
    });
    if (palette) {
      palette.addItem({ command: COMMAND_SHOW, category: CATEGORY });
      palette.addItem({ command: COMMAND_NEW, category: CATEGORY });
    }
    if (launcher) {
      launcher.add({ command: COMMAND_NEW, category: 'Other', rank: 1 });
      launcher.add({ command: COMMAND_SHOW, category: 'Other', rank: 2 });
    }
  }
};

export default plugin;
