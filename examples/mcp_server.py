"""Serve a knowledge base to any MCP-capable agent, then connect to it as a client.

    python examples/mcp_server.py [--kb DIR] [--limit 40]

This builds (or reuses) the demo base, starts ``rag-plugins serve-mcp KB`` as a real
server process over stdio, and talks to it with the MCP Python client: it lists the
tools and calls two of them. To give the same base to Claude Desktop or an IDE agent,
add the server to its MCP configuration, as printed at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kb import demo_kb, example_parser, kb_directory  # noqa: E402
from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

from rag_plugins.tools import read_passages  # noqa: E402


async def use_server(directory: Path) -> None:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "rag_plugins.cli", "serve-mcp", str(directory)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the client passes only a minimal environment otherwise
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write, read_timeout_seconds=300) as session:
        init = await session.initialize()
        print(f"connected to {init.server_info.name} {init.server_info.version}")
        for tool in (await session.list_tools()).tools:
            print(f"  tool {tool.name}: {sorted(tool.input_schema['properties'])}")

        result = await session.call_tool("search", {"query": "when was NYSME incorporated", "k": 2})
        print(f"\nsearch -> {result.content[0].text.splitlines()[0]}")
        for passage in result.structured_content["passages"]:
            print(f"  {passage['source']}  {passage['title']}  scores {passage['scores']}")

        result = await session.call_tool("search_dense", {"query": "young adult series about alien species"})
        print(f"\nsearch_dense -> {[p['source'] for p in read_passages(result.content[0].text)]}")

        refused = await session.call_tool("search", {"query": "NYSME", "route": "web"})
        print(f"\na refused call comes back as a tool error: {refused.is_error}: {refused.content[0].text[:90]}")


def main() -> None:
    parser = example_parser(__doc__)
    args = parser.parse_args()
    directory = kb_directory(args, "mcp")
    demo_kb(directory, args.limit).close()  # the server opens the base itself
    asyncio.run(use_server(directory))

    installed = Path(sys.executable).with_name("rag-plugins")
    command = str(installed) if installed.exists() else shutil.which("rag-plugins") or "rag-plugins"
    config = {"mcpServers": {"my-knowledge-base": {"command": command, "args": ["serve-mcp", str(directory.resolve())]}}}
    print("\nMCP client configuration (e.g. Claude Desktop's claude_desktop_config.json):")
    print(json.dumps(config, indent=2))


if __name__ == "__main__":
    main()
