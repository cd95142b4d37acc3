/**
 * presets in the New workspace form, as pure functions: the template's presets (from the form route;
 * none when Coder has no presets), what choosing one does to the values (fills the preset's parameters,
 * which are then fixed), and the create body's `preset`.
 */
import { FieldValue, initialValue } from './form';
import { ICreateBody, IParameterField, IPreset } from './types';

/** The preset select's `data-param` name. */
export const PRESET_FIELD = '__preset';

/** The preset select's label for one preset (prebuilt ones are ready in seconds). */
export function presetLabel(preset: IPreset): string {
  return preset.prebuilt
    ? `${preset.name} (prebuilt: ready in seconds)`
    : preset.name;
}

export function findPreset(
  presets: IPreset[] | undefined,
  id: string
): IPreset | null {
  return (presets ?? []).find(preset => preset.id === id) ?? null;
}

/** The form values after choosing `preset`: its parameters set (in each input's own type). */
export function applyPreset(
  fields: IParameterField[],
  values: Record<string, FieldValue>,
  preset: IPreset | null
): Record<string, FieldValue> {
  const next = { ...values };
  if (preset === null) {
    return next;
  }
  for (const field of fields) {
    const fixed = preset.parameters[field.name];
    if (fixed !== undefined) {
      next[field.name] = initialValue({
        ...field,
        default: fixed,
        value: null
      });
    }
  }
  return next;
}

/** Whether `field` is fixed by the chosen preset (its input is then disabled). */
export function fixedByPreset(
  preset: IPreset | null,
  field: IParameterField
): boolean {
  return preset !== null && preset.parameters[field.name] !== undefined;
}

/** The create body with the chosen preset (its id); unchanged without one. */
export function withPreset(
  body: ICreateBody,
  preset: IPreset | null
): ICreateBody {
  return preset === null ? body : { ...body, preset: preset.id };
}
