import { LabIcon } from '@jupyterlab/ui-components';

import coderSvg from '../style/icons/coder.svg';

/** The panel's tab, launcher and palette icon. */
export const coderIcon = new LabIcon({
  name: 'coder-jupyter:coder',
  svgstr: coderSvg
});
