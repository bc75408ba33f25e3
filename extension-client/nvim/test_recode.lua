-- Headless test of recode.lua. Run from extension-client/:
--
--   PYTHONPATH=testing/fake-server nvim --headless -u NONE -c 'luafile nvim/test_recode.lua'
--
-- (or `sh nvim/test.sh`, which sets that up). Pure checks first, then an end-to-end run against
-- the stand-in server in testing/fake-server (a Python script that speaks enough LSP and logs
-- what it receives to $RECODE_FAKE_LOG). Exits 0 when every check passes, 1 otherwise.

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local recode = dofile(here .. '/recode.lua')

local failures, passed = {}, 0
local function check(name, ok, detail)
  if ok then
    passed = passed + 1
  else
    table.insert(failures, name .. (detail and (': ' .. detail) or ''))
  end
end
local function check_equal(name, got, want)
  check(name, vim.deep_equal(got, want), 'got ' .. vim.inspect(got) .. ', want ' .. vim.inspect(want))
end

-- Warnings go through vim.notify; record them instead of printing.
local notes = {}
vim.notify = function(msg, level)
  table.insert(notes, { msg = msg, level = level })
end

local function finish()
  io.stdout:write(string.format('recode.lua (Neovim %s): %d passed, %d failed\n',
    tostring(vim.version().major) .. '.' .. vim.version().minor .. '.' .. vim.version().patch,
    passed, #failures))
  for _, f in ipairs(failures) do
    io.stdout:write('FAIL ' .. f .. '\n')
  end
  vim.cmd((#failures == 0) and 'qall!' or 'cquit 1')
end

local function pure_checks()
  local home = vim.loop.os_homedir()
  check_equal('defaults', recode.server_settings({}), { targets = {}, libraries = {}, minSeverity = 'hint' })
  check_equal('empty strings are unset', recode.server_settings({ python = '', model = '  ', modelUrl = '' }),
    { targets = {}, libraries = {}, minSeverity = 'hint' })
  check_equal('all keys', recode.server_settings({
    python = ' ${workspaceFolder}/.venv/bin/python ',
    targets = { 'numpy == 2.0', 'pandas==2.2.3', 'numpy==2.0' },
    libraries = { 'numpy', 'scikit-learn' },
    minSeverity = 'Warning',
    modelUrl = 'http://127.0.0.1:8000/v1',
    model = 'recode-7b',
  }, '/proj'), {
    python = '/proj/.venv/bin/python',
    targets = { 'numpy==2.0', 'pandas==2.2.3' },
    libraries = { 'numpy', 'scikit-learn' },
    minSeverity = 'warning',
    modelUrl = 'http://127.0.0.1:8000/v1',
    model = 'recode-7b',
  })
  check_equal('~ expands', recode.server_settings({ python = '~/v/bin/python' }).python, home .. '/v/bin/python')

  notes = {}
  local bad = recode.server_settings({ targets = { 'numpy>=2', 'a b==1', 7 }, minSeverity = 'fatal', nope = 1 })
  check_equal('bad values dropped', bad, { targets = {}, libraries = {}, minSeverity = 'hint' })
  check('bad values warned', #notes == 5, vim.inspect(notes))

  local settings = { targets = { 'numpy==2.0' }, libraries = {}, minSeverity = 'hint', python = '/p' }
  check_equal('configuration answer', recode.configuration_answer({
    { section = 'recode' },
    { section = 'recode.targets' },
    { section = 'recode.python', scopeUri = 'file:///x' },
    { section = 'recode.model' },
    { section = 'recode.serverPython' },
    { section = 'python' },
    {},
  }, settings), { settings, { 'numpy==2.0' }, '/p', vim.NIL, vim.NIL, vim.NIL, { recode = settings } })
  check('empty lists encode as JSON arrays',
    vim.json.encode(recode.server_settings({})):find('"targets":%[%]') ~= nil)

  local tmp = vim.fn.tempname()
  vim.fn.mkdir(tmp .. '/proj/pkg/sub', 'p')
  vim.fn.writefile({}, tmp .. '/proj/pyproject.toml')
  vim.fn.mkdir(tmp .. '/loose', 'p')
  check_equal('root by marker', recode.find_root(tmp .. '/proj/pkg/sub/a.py', recode.defaults.root_markers), tmp .. '/proj')
  check_equal('root of the root', recode.find_root(tmp .. '/proj/a.py', recode.defaults.root_markers), tmp .. '/proj')
  check_equal('no marker: the file folder', recode.find_root(tmp .. '/loose/b.py', { 'no-such-marker-xyz' }), tmp .. '/loose')
  vim.fn.delete(tmp, 'rf')
end

-- The stand-in servers append to the log while the checks poll it: a line still being written
-- is read as far as it goes, and is skipped until it is whole.
local function read_log(path)
  local out = {}
  if vim.fn.filereadable(path) == 1 then
    for _, line in ipairs(vim.fn.readfile(path)) do
      if line ~= '' then
        local ok, message = pcall(vim.json.decode, line)
        if ok then
          table.insert(out, message)
        end
      end
    end
  end
  return out
end

local function find(log, pred)
  for _, m in ipairs(log) do
    if pred(m) then
      return m
    end
  end
  return nil
end

local function end_to_end()
  local log_path = vim.env.RECODE_FAKE_LOG
  if not log_path or log_path == '' then
    log_path = vim.fn.tempname() .. '.jsonl'
    vim.env.RECODE_FAKE_LOG = log_path
  end
  local python = vim.env.RECODE_TEST_PYTHON or 'python3'
  local tmp = vim.fn.tempname()
  vim.fn.mkdir(tmp .. '/proj/pkg', 'p')
  vim.fn.mkdir(tmp .. '/other', 'p')
  vim.fn.writefile({}, tmp .. '/proj/pyproject.toml')
  vim.fn.writefile({}, tmp .. '/other/setup.py')
  vim.fn.writefile({ 'import numpy as np', 'x = np.float_(1)' }, tmp .. '/proj/pkg/a.py')
  vim.fn.writefile({ 'y = 1' }, tmp .. '/proj/b.py')
  vim.fn.writefile({ 'z = 2' }, tmp .. '/other/c.py')

  recode.setup({
    cmd = { python, '-m', 'recode.server.lsp' },
    settings = {
      python = '${workspaceFolder}/.venv/bin/python',
      targets = { 'numpy == 2.0' },
      minSeverity = 'Warning',
      modelUrl = 'http://127.0.0.1:8000/v1',
    },
  })
  vim.cmd('filetype on')
  vim.cmd('edit ' .. vim.fn.fnameescape(tmp .. '/proj/pkg/a.py'))
  local buf = vim.api.nvim_get_current_buf()
  local expected = {
    python = tmp .. '/proj/.venv/bin/python',
    targets = { 'numpy==2.0' },
    libraries = {},
    minSeverity = 'warning',
    modelUrl = 'http://127.0.0.1:8000/v1',
  }

  local attached = vim.wait(15000, function()
    return #recode.clients(buf) > 0
  end, 20)
  check('client attached on FileType python', attached, 'filetype=' .. vim.bo[buf].filetype)
  if not attached then
    return
  end
  local got_answer = vim.wait(15000, function()
    local log = read_log(log_path)
    return find(log, function(m) return m.id == 'cfg' and m.method == nil end) ~= nil
      and find(log, function(m) return m.method == 'workspace/didChangeConfiguration' end) ~= nil
  end, 20)
  check('server got the configuration answer and didChangeConfiguration', got_answer)

  local log = read_log(log_path)
  local init = find(log, function(m) return m.method == 'initialize' end)
  check('initialize sent', init ~= nil)
  if init then
    check_equal('initializationOptions', init.params.initializationOptions, expected)
    check_equal('rootUri is the project', init.params.rootUri, vim.uri_from_fname(tmp .. '/proj'))
  end
  local answer = find(log, function(m) return m.id == 'cfg' and m.method == nil end)
  if answer then
    check_equal('workspace/configuration answer', answer.result, { expected, expected.targets, vim.NIL, { recode = expected } })
  end
  local change = find(log, function(m) return m.method == 'workspace/didChangeConfiguration' end)
  if change then
    check_equal('didChangeConfiguration', change.params, { settings = { recode = expected } })
  end

  -- :RecodeMigrateFile: executeCommand, then the server's workspace/applyEdit on this buffer.
  local done, result = false, nil
  recode.migrate_file(buf, function(err, res)
    done, result = true, res or err
  end)
  vim.wait(15000, function() return done end, 20)
  check_equal('migrate result', result, { ran = 'recode.migrateFile', applied = true })
  local exec = find(read_log(log_path), function(m) return m.method == 'workspace/executeCommand' end)
  check_equal('executeCommand params', exec and exec.params,
    { command = 'recode.migrateFile', arguments = { vim.uri_from_bufnr(buf) } })
  check_equal('the edit reached the buffer', vim.api.nvim_buf_get_lines(buf, 0, 1, false),
    { '# migrated by the stand-in server' })

  -- One client per root: a second file of the project reuses it, another project gets its own.
  local first = recode.clients(buf)[1].id
  vim.cmd('edit ' .. vim.fn.fnameescape(tmp .. '/proj/b.py'))
  local buf_b = vim.api.nvim_get_current_buf()
  vim.wait(5000, function() return #recode.clients(buf_b) > 0 end, 20)
  check_equal('same root, same client', (recode.clients(buf_b)[1] or {}).id, first)
  vim.cmd('edit ' .. vim.fn.fnameescape(tmp .. '/other/c.py'))
  local buf_c = vim.api.nvim_get_current_buf()
  vim.wait(15000, function() return #recode.clients(buf_c) > 0 end, 20)
  local other = recode.clients(buf_c)[1]
  check('other root, other client', other ~= nil and other.id ~= first)
  if other then
    check_equal('other root dir', other.config.root_dir, tmp .. '/other')
  end

  -- Settings changed at run time reach the servers.
  recode.update_settings({ minSeverity = 'error' })
  local updated = vim.wait(10000, function()
    local n = 0
    for _, m in ipairs(read_log(log_path)) do
      if m.method == 'workspace/didChangeConfiguration' and m.params.settings.recode.minSeverity == 'error' then
        n = n + 1
      end
    end
    return n >= 2
  end, 20)
  check('update_settings notifies every client', updated)

  local ids = {}
  for _, c in ipairs(vim.lsp.get_clients and vim.lsp.get_clients({ name = 'recode' }) or vim.lsp.get_active_clients()) do
    table.insert(ids, c.id)
  end
  vim.lsp.stop_client(ids)
  local exited = vim.wait(10000, function()
    local n = 0
    for _, m in ipairs(read_log(log_path)) do
      if m.method == 'exit' then n = n + 1 end
    end
    return n >= 2
  end, 20)
  check('servers shut down', exited)
  vim.fn.delete(tmp, 'rf')
end

local ok, err = xpcall(function()
  pure_checks()
  if vim.env.RECODE_TEST_PURE_ONLY ~= '1' then
    notes = {}
    end_to_end()
    -- A clean run warns about nothing, deprecated APIs included.
    check_equal('no warnings in the end-to-end run', notes, {})
  end
end, debug.traceback)
check('no Lua error', ok, err)
finish()
