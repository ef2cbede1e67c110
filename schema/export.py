"""Print the schema's SDL: `make schema` writes it to schema.graphql."""

from schema import schema


def sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
