-- Headless Neovim as a second real LSP client: starts `leaklens server --stdio` for Python
-- buffers, waits for LeakLens diagnostics, applies the preferred quick fix, writes the file
-- and records what happened as JSON in $LEAKLENS_NVIM_OUT. Exits 0 when done, 1 on timeout.
local out = os.getenv('LEAKLENS_NVIM_OUT')
local server = os.getenv('LEAKLENS_SERVER')
local node = os.getenv('LEAKLENS_NODE') or 'node'
local result = { diagnostics = vim.NIL, actions = vim.NIL, applied = vim.NIL }

local function finish(code)
  local f = io.open(out, 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd(code == 0 and 'qall!' or 'cquit 1')
end

local requested = false
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'python',
  callback = function(args)
    local id = vim.lsp.start_client({
      name = 'leaklens',
      cmd = { node, server, 'server', '--stdio' },
      root_dir = vim.fn.getcwd(),
      -- Settings the way Neovim users give them: every rule (only LL101 is on by default).
      init_options = { settings = { select = { 'ALL' } } },
      handlers = {
        ['textDocument/publishDiagnostics'] = function(err, res, ctx, config)
          vim.lsp.diagnostic.on_publish_diagnostics(err, res, ctx, config)
          if requested or #res.diagnostics == 0 then return end
          requested = true
          result.diagnostics = res.diagnostics
          local client = vim.lsp.get_client_by_id(ctx.client_id)
          local d = res.diagnostics[1]
          local params = { textDocument = { uri = res.uri }, range = d.range, context = { diagnostics = { d }, only = { 'quickfix' } } }
          client.request('textDocument/codeAction', params, function(_, actions)
            result.actions = actions
            local chosen
            for _, a in ipairs(actions or {}) do
              if a.isPreferred then chosen = a end
            end
            if not chosen then return finish(1) end
            vim.lsp.util.apply_workspace_edit(chosen.edit, 'utf-16')
            vim.cmd('write')
            result.applied = chosen.title
            finish(0)
          end, args.buf)
        end,
      },
    })
    vim.lsp.buf_attach_client(args.buf, id)
  end,
})

vim.defer_fn(function() finish(1) end, tonumber(os.getenv('LEAKLENS_NVIM_TIMEOUT_MS') or '30000'))
