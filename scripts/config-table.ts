// Prints the README's configuration table from src/shared/config.ts (`node scripts/config-table.ts`); the catalogue test
// fails when the README and the parser disagree.
import { VARIABLES } from '../src/shared/config.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|');
console.log('| Variable | Default | Meaning |');
console.log('|---|---|---|');
for (const v of Object.values(VARIABLES)) {
  console.log(`| \`${v.name}\` | ${v.default === '' ? '(unset)' : '`' + v.default + '`'} | ${cell(v.doc)} |`);
}
