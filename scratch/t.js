const {Parser, Language} = require('web-tree-sitter');
(async()=>{
await Parser.init();
const L = await Language.load('grammars/tree-sitter-python.wasm');
const p = new Parser(); p.setLanguage(L);
for (const src of [
 'def f(x: list[int] = [], *, y=()): return x\n',
 'class A:\n    def f(self, x={}):\n        # c\n        """doc"""\n        x[1] = 2\n',
 'f = lambda x=[]: x\n',
 'async def g():\n    f = open(p)\n    with f: pass\n    with open(p) as g, closing(h): pass\n    try:\n        pass\n    finally:\n        f.close()\n',
 'x: IO = open(p)\nprint(x, file=f)\n',
 'from a.b import c as d, e\nimport x.y, z as w\nfrom . import q\n',
]) { const t = p.parse(src); console.log(t.rootNode.toString()); t.delete(); }
})();
